"""The ``[server]`` and ``[smtp]`` sections: read, checked, and explained in words."""

from __future__ import annotations

import re
import secrets
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from service.settings_checks import (
    address_problem,
    database_problem,
    is_loopback,
    port_problem,
    proxy_problem,
    url_problem,
)
from service.settings_reader import EnvText, Reader, typed
from service.settings_types import (
    ASSETS_ROOT,
    SMTP_PORTS,
    DevSettings,
    DkimSettings,
    ServerSettings,
    SmtpSettings,
)

# Numbers that must be above zero (or at least zero) for the service to work at all.
POSITIVE = {
    "server.token_max_age_days",
    "server.unsubscribe_max_age_days",
    "server.retention_days",
    "server.max_body_bytes",
    "smtp.timeout",
    "outbox.concurrency",
    "outbox.max_attempts",
    "outbox.max_delay",
    "outbox.lease_seconds",
    "outbox.poll_interval",
}
NOT_NEGATIVE = {"server.confirm_min_dwell_seconds", "outbox.base_delay"}


def check_numbers(section: str, values: object, r: Reader) -> None:
    """Every number of a section that must be positive (or not negative) is, or is explained."""
    for f in fields(values):  # type: ignore[arg-type]
        where, value = f"{section}.{f.name}", getattr(values, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if where in POSITIVE and value <= 0:
            r.problems.append(f"{where} must be more than 0, not {value}")
        elif (where in NOT_NEGATIVE or section == "limits") and value < 0:
            r.problems.append(f"{where} must be 0 or more, not {value}")


def _dev_secret(database: str) -> str:
    """A development secret that survives restarts, so links in caught mail keep working."""
    path = Path(".optin-secret")
    if database.startswith("sqlite:///") and database != "sqlite:///:memory:":
        path = Path(database.removeprefix("sqlite:///")).resolve().parent / ".optin-secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _templates(table: dict[str, Any], r: Reader) -> Path:
    folder = Path(r.take(table, "server", "templates_dir", str, str(ASSETS_ROOT / "templates")))
    missing = [
        p for p in ("email/confirm.txt", "pages/base.html", "i18n/en.json") if not (folder / p).is_file()
    ]
    if missing:
        r.problems.append(
            f"server.templates_dir {str(folder)!r} is not a copy of optin's templates/ (missing {missing[0]})"
        )
    return folder


def server_section(table: dict[str, Any], r: Reader) -> ServerSettings:
    s = "server"
    environment = r.take(table, s, "environment", str, "development")
    if environment not in ("development", "production"):
        r.problems.append(f"server.environment must be development or production, not {environment!r}")
        environment = "production"
    production = environment == "production"
    public_url = r.take(table, s, "public_url", str, "http://127.0.0.1:8000").rstrip("/")
    if problem := url_problem(public_url, production=production):
        r.problems.append(f"server.public_url {problem}")
    database = r.take(table, s, "database", str, "sqlite:///./optin.db")
    database_ok = (problem := database_problem(database)) is None
    if problem:
        r.problems.append(f"server.database {problem}")
    auto_migrate = r.take(table, s, "auto_migrate", bool, database.startswith("sqlite:"))
    secret_key = r.take(table, s, "secret_key", str, "")
    if not secret_key:
        if production:
            r.problems.append(
                'server.secret_key is required in production (e.g. secret_key = "env:OPTIN_SECRET_KEY",'
                " or $OPTIN_SERVER__SECRET_KEY_FILE)"
            )
        elif database_ok:
            try:
                secret_key = _dev_secret(database)
            except OSError as exc:
                r.problems.append(
                    f"server.secret_key is not set, and the development secret cannot be kept beside"
                    f" the database ({exc.strerror or exc}): set server.secret_key"
                )
    elif len(secret_key) < 16:
        r.problems.append("server.secret_key must be at least 16 characters long")
    port = r.take(table, s, "port", int, 8000)
    if problem := port_problem(port):
        r.problems.append(f"server.port {problem}")
    owner_email = r.take(table, s, "owner_email", str, "")
    if owner_email and (problem := address_problem(owner_email)):
        r.problems.append(f"server.owner_email {problem}")
    log_format = r.take(table, s, "log_format", str, "text")
    if log_format not in ("text", "json"):
        r.problems.append(f'server.log_format must be "text" or "json", not {log_format!r}')
        log_format = "text"
    proxies = tuple(str(p) for p in r.take(table, s, "trusted_proxies", list, []))
    r.problems.extend(f"server.trusted_proxies: {p}" for p in map(proxy_problem, proxies) if p)
    settings = ServerSettings(
        public_url=public_url,
        secret_key=secret_key,
        database=database,
        environment=environment,
        host=r.take(table, s, "host", str, "127.0.0.1"),
        port=port,
        auto_migrate=auto_migrate,
        token_max_age_days=r.take(table, s, "token_max_age_days", float, 7.0),
        unsubscribe_max_age_days=r.take(table, s, "unsubscribe_max_age_days", float, 730.0),
        max_body_bytes=r.take(table, s, "max_body_bytes", int, 16_384),
        owner_email=owner_email,
        trusted_proxies=proxies,
        confirm_min_dwell_seconds=r.take(table, s, "confirm_min_dwell_seconds", float, 1.5),
        truncate_ips=r.take(table, s, "truncate_ips", bool, False),
        retention_days=r.take(table, s, "retention_days", float, 30.0),
        templates_dir=_templates(table, r),
        log_format=log_format,
    )
    check_numbers(s, settings, r)
    r.leftovers(table, s)
    return settings


def _smtp_port(table: dict[str, Any], r: Reader) -> int | Literal["auto"]:
    r.note("smtp", "port")
    raw = r.resolve("smtp.port", table.pop("port", "auto"))
    if isinstance(raw, EnvText) and raw.strip() != "auto":
        raw = typed(raw, int) or raw
    if raw == "auto":
        return "auto"
    if isinstance(raw, int) and not isinstance(raw, bool) and port_problem(raw) is None:
        return raw
    r.problems.append(f'smtp.port must be 587, 465, 2525 or "auto", not {raw!r}')
    return "auto"


_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?")


def _dns_name_problem(name: str) -> str | None:
    labels = name.rstrip(".").split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"must be a DNS name (letters, digits, hyphens, dots), not {name!r}"
    return None


def _read_key_file(path: str, r: Reader) -> str:
    where = "smtp.dkim.private_key_file"
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        r.problems.append(f"{where} {path!r} does not exist")
    except IsADirectoryError:
        r.problems.append(f"{where} {path!r} is a directory, not a key file")
    except PermissionError:
        r.problems.append(f"{where} {path!r} cannot be read by this user (check its owner and mode)")
    except UnicodeDecodeError:
        r.problems.append(f"{where} {path!r} is not a PEM text file (a DER key? convert it to PEM)")
    except OSError as exc:
        r.problems.append(f"{where} {path!r} cannot be read: {exc.strerror or exc}")
    return ""


def dkim_section(table: dict[str, Any], sender: str, r: Reader) -> DkimSettings | None:
    """``[smtp.dkim]``: the key is read and checked here, so check-config catches a bad one."""
    from service.mail.dkim import domain_of, load_key

    r.note("smtp", "dkim")
    s = "smtp.dkim"
    raw = table.pop("dkim", {})
    if isinstance(raw, EnvText):
        raw = typed(raw, dict)
    if not isinstance(raw, dict):
        r.problems.append(f"[smtp.dkim] must be a table with domain, selector and private_key{r._from(s)}")
        return None
    if not raw:
        return None
    raw = dict(raw)
    domain = r.take(raw, s, "domain", str, "") or domain_of(sender)
    selector = r.take(raw, s, "selector", str, "")
    key_text = r.take(raw, s, "private_key", str, "")
    key_file = r.take(raw, s, "private_key_file", str, "")
    r.leftovers(raw, s)
    if problem := _dns_name_problem(domain):
        r.problems.append(f"smtp.dkim.domain {problem}")
    if not selector:
        r.problems.append(
            'smtp.dkim.selector is required (e.g. selector = "s1"; `optin dkim-keygen` makes one)'
        )
    elif problem := _dns_name_problem(selector):
        r.problems.append(f"smtp.dkim.selector {problem}")
    if key_text and key_file:
        r.problems.append("smtp.dkim: set private_key or private_key_file, not both")
        return None
    if not key_text and not key_file:
        r.problems.append(
            'smtp.dkim needs the private key: private_key = "env:OPTIN_DKIM_KEY" or private_key_file = "/path"'
        )
        return None
    where = "smtp.dkim.private_key"
    if key_file:
        key_text = _read_key_file(key_file, r)
        where = f"smtp.dkim.private_key_file {key_file!r}"
        if not key_text:
            return None
    try:
        load_key(key_text)
    except ValueError as exc:
        r.problems.append(f"{where} {exc}")
        return None
    return DkimSettings(
        domain=domain.rstrip(".").lower(), selector=selector, private_key=key_text, private_key_file=key_file
    )


def smtp_section(table: dict[str, Any], server: ServerSettings, dev: DevSettings, r: Reader) -> SmtpSettings:
    s = "smtp"
    host = r.take(table, s, "host", str, "")
    port = _smtp_port(table, r)
    security = r.take(table, s, "security", str, "auto")
    if security not in ("auto", "starttls", "tls", "none"):
        r.problems.append(f"smtp.security must be auto, starttls, tls or none, not {security!r}")
        security = "auto"
    sender = r.take(table, s, "sender", str, "")
    alerts_sender = r.take(table, s, "alerts_sender", str, "")
    if alerts_sender and (problem := address_problem(alerts_sender, display_name=True)):
        r.problems.append(f"smtp.alerts_sender {problem}")
    if not host:
        if server.environment == "production":
            r.problems.append(
                "smtp.host is required in production: optin needs a relay to send confirmations"
            )
        sender = sender or "optin (development) <optin@localhost>"
        dkim = dkim_section(table, sender, r)
        for key in ("username", "password", "tls_ca_file", "timeout", "helo_name"):
            table.pop(key, None)  # kept for when a relay is configured; unused until then
        r.leftovers(table, s)
        return SmtpSettings(
            host="",
            port=dev.mail_catcher_port,
            sender=sender,
            security="none",
            alerts_sender=alerts_sender,
            dkim=dkim,
        )
    if port not in (*SMTP_PORTS, "auto") and security == "auto":
        r.problems.append(f"smtp.port {port} is not 587, 465 or 2525: also set smtp.security")
    if security == "none" and not is_loopback(host):
        r.problems.append('smtp.security = "none" is only allowed for a relay on loopback')
    if problem := address_problem(sender, display_name=True):
        r.problems.append(f"smtp.sender {problem}")
    ca_file = r.take(table, s, "tls_ca_file", str, "")
    if ca_file and not Path(ca_file).is_file():
        r.problems.append(f"smtp.tls_ca_file {ca_file!r} does not exist")
    smtp = SmtpSettings(
        host=host,
        port=port,
        sender=sender,
        username=r.take(table, s, "username", str, ""),
        password=r.take(table, s, "password", str, ""),
        tls_ca_file=ca_file,
        security=security,
        timeout=r.take(table, s, "timeout", float, 30.0),
        helo_name=r.take(table, s, "helo_name", str, ""),
        alerts_sender=alerts_sender,
        dkim=dkim_section(table, sender, r),
    )
    check_numbers(s, smtp, r)
    r.leftovers(table, s)
    return smtp
