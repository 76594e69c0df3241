"""The one typed settings object, built once at start-up from TOML and the environment.

Nothing else in optin reads ``os.environ``. Any string value may be ``env:NAME`` so secrets
stay out of files. Every problem is collected and reported together, in words, by
:class:`service.errors.ConfigError` (``optin check-config`` prints them one per line).
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from service.antibot.policy import AntiBotPolicy
from service.errors import ConfigError
from service.settings_reader import Reader, dataclass_section, table_of
from service.settings_types import (
    ADMIN_SCOPES,
    LANGUAGES,
    REPO_ROOT,
    SMTP_PORTS,
    AdminKey,
    DevSettings,
    Environment,
    FormSettings,
    HookSettings,
    LimitSettings,
    OutboxSettings,
    ServerSettings,
    Settings,
    SmtpSettings,
)
from service.verification import Policy
from service.verification.config import VerifierConfig

__all__ = [
    "ADMIN_SCOPES",
    "LANGUAGES",
    "REPO_ROOT",
    "SMTP_PORTS",
    "AdminKey",
    "DevSettings",
    "Environment",
    "FormSettings",
    "HookSettings",
    "LimitSettings",
    "OutboxSettings",
    "ServerSettings",
    "Settings",
    "SmtpSettings",
    "build_settings",
    "load_settings",
]


def _dev_secret(database: str) -> str:
    """A development secret that survives restarts, so links in caught mail keep working."""
    path = Path(".optin-secret")
    if database.startswith("sqlite:///") and database != "sqlite:///:memory:":
        path = Path(database.removeprefix("sqlite:///")).resolve().parent / ".optin-secret"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _server(table: dict[str, Any], r: Reader) -> ServerSettings:
    s = "server"
    environment = r.take(table, s, "environment", str, "development")
    if environment not in ("development", "production"):
        r.problems.append(f"server.environment must be development or production, not {environment!r}")
        environment = "production"
    public_url = r.take(table, s, "public_url", str, "http://127.0.0.1:8000").rstrip("/")
    if urlsplit(public_url).scheme not in ("http", "https") or not urlsplit(public_url).netloc:
        r.problems.append(f"server.public_url must be an http(s) URL, not {public_url!r}")
    database = r.take(table, s, "database", str, "sqlite:///./optin.db")
    if not database.startswith(("sqlite:///", "postgresql://", "postgres://")):
        r.problems.append("server.database must start with sqlite:/// (PostgreSQL support is planned)")
    secret_key = r.take(table, s, "secret_key", str, "")
    if not secret_key:
        if environment == "production":
            r.problems.append(
                'server.secret_key is required in production (e.g. secret_key = "env:OPTIN_SECRET_KEY")'
            )
        else:
            secret_key = _dev_secret(database)
    elif len(secret_key) < 16:
        r.problems.append("server.secret_key must be at least 16 characters long")
    settings = ServerSettings(
        public_url=public_url,
        secret_key=secret_key,
        database=database,
        environment=environment,
        host=r.take(table, s, "host", str, "127.0.0.1"),
        port=r.take(table, s, "port", int, 8000),
        token_max_age_days=r.take(table, s, "token_max_age_days", float, 7.0),
        unsubscribe_max_age_days=r.take(table, s, "unsubscribe_max_age_days", float, 730.0),
        max_body_bytes=r.take(table, s, "max_body_bytes", int, 16_384),
        owner_email=r.take(table, s, "owner_email", str, ""),
        trusted_proxies=tuple(str(p) for p in r.take(table, s, "trusted_proxies", list, [])),
        confirm_min_dwell_seconds=r.take(table, s, "confirm_min_dwell_seconds", float, 1.5),
        truncate_ips=r.take(table, s, "truncate_ips", bool, False),
        retention_days=r.take(table, s, "retention_days", float, 30.0),
        templates_dir=Path(r.take(table, s, "templates_dir", str, str(REPO_ROOT / "templates"))),
    )
    r.leftovers(table, s)
    return settings


def _smtp(table: dict[str, Any], server: ServerSettings, dev: DevSettings, r: Reader) -> SmtpSettings:
    s = "smtp"
    host = r.take(table, s, "host", str, "")
    raw_port = r.resolve("smtp.port", table.pop("port", "auto"))
    port: int | Literal["auto"] = "auto"
    if raw_port == "auto":
        port = "auto"
    elif isinstance(raw_port, int | str) and str(raw_port).isdigit() and 0 < int(raw_port) < 65536:
        port = int(raw_port)
    else:
        r.problems.append(f'smtp.port must be 587, 465, 2525 or "auto", not {raw_port!r}')
    security = r.take(table, s, "security", str, "auto")
    if security not in ("auto", "starttls", "tls", "none"):
        r.problems.append(f"smtp.security must be auto, starttls, tls or none, not {security!r}")
        security = "auto"
    sender = r.take(table, s, "sender", str, "")
    if not host:
        if server.environment == "production":
            r.problems.append(
                "smtp.host is required in production: optin needs a relay to send confirmations"
            )
        host, port, security = "127.0.0.1", dev.mail_catcher_port, "none"
        sender = sender or "optin (development) <optin@localhost>"
        table.pop("username", None), table.pop("password", None)
        smtp = SmtpSettings(host="", port=port, sender=sender, security="none")
        r.leftovers(table, s)
        return smtp
    if port not in (*SMTP_PORTS, "auto") and security == "auto":
        r.problems.append(f"smtp.port {port} is not 587, 465 or 2525: also set smtp.security")
    if security == "none" and host not in ("127.0.0.1", "localhost", "::1"):
        r.problems.append('smtp.security = "none" is only allowed for a relay on loopback')
    if not sender or "@" not in sender:
        r.problems.append('smtp.sender must be an address such as "Example News <news@example.com>"')
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
    )
    r.leftovers(table, s)
    return smtp


def _form(form_id: str, table: dict[str, Any], connectors: Mapping[str, Any], r: Reader) -> FormSettings:
    s = f"forms.{form_id}"
    language = r.take(table, s, "language", str, "en")
    if language not in LANGUAGES:
        r.problems.append(f"{s}.language must be one of {', '.join(LANGUAGES)}, not {language!r}")
        language = "en"
    origins = r.take(table, s, "allowed_origins", list, [])
    for origin in origins:
        parts = urlsplit(str(origin))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            r.problems.append(
                f"{s}.allowed_origins: {origin!r} is not an origin like https://www.example.com"
            )
    connector = r.take(table, s, "connector", str, "builtin")
    if connector != "builtin" and connector not in connectors:
        r.problems.append(f"{s}.connector names {connector!r}, but there is no [connectors.{connector}]")
    thank_you = r.take(table, s, "thank_you_url", str, "")
    if thank_you and urlsplit(thank_you).scheme not in ("http", "https"):
        r.problems.append(f"{s}.thank_you_url must be an http(s) URL")
    hook = _hook(s, table.pop("hook", None), r)
    try:
        antibot = AntiBotPolicy.from_mapping(table.pop("antibot", {}))
    except ConfigError as exc:
        r.problems.extend(f"{s}.antibot: {p}" for p in exc.problems)
        antibot = AntiBotPolicy()
    policy_table = table.pop("verification", {})
    try:
        policy = Policy.from_mapping(policy_table) if policy_table else Policy()
    except ConfigError as exc:
        r.problems.extend(f"{s}.verification: {p}" for p in exc.problems)
        policy = Policy()
    form = FormSettings(
        id=form_id,
        title=r.take(table, s, "title", str, form_id.replace("-", " ").replace("_", " ").title()),
        language=language,
        allowed_origins=tuple(str(o).rstrip("/") for o in origins),
        connector=connector,
        thank_you_url=thank_you,
        welcome_email=r.take(table, s, "welcome_email", bool, False),
        consent_text=r.take(table, s, "consent_text", str, ""),
        widget_strings=_widget_strings(s, table.pop("widget_strings", {}), r),
        policy=policy,
        hook=hook,
        antibot=antibot,
    )
    r.leftovers(table, s)
    return form


WIDGET_CATALOG = REPO_ROOT / "widget" / "i18n" / "en.json"


def _widget_strings(form_section: str, raw: object, r: Reader) -> dict[str, dict[str, str]]:
    """``[forms.NAME.widget_strings.LANG]``: the widget's wording for this form, key by key."""
    s = f"{form_section}.widget_strings"
    if not isinstance(raw, dict):
        r.problems.append(f"[{s}] must be a table of languages")
        return {}
    known = set(json.loads(WIDGET_CATALOG.read_text(encoding="utf-8")))
    result: dict[str, dict[str, str]] = {}
    for language, strings in raw.items():
        if language not in LANGUAGES or not isinstance(strings, dict):
            r.problems.append(f"[{s}.{language}] must be one of {', '.join(LANGUAGES)}, holding texts")
            continue
        for key, text in strings.items():
            if key not in known:
                r.problems.append(
                    f"{s}.{language}.{key} is not a widget text (known: {', '.join(sorted(known))})"
                )
            elif not isinstance(text, str) or not text.strip():
                r.problems.append(f"{s}.{language}.{key} must be a non-empty text")
        result[language] = {k: v for k, v in strings.items() if k in known and isinstance(v, str)}
    return result


def _hook(form_section: str, raw: object, r: Reader) -> HookSettings | None:
    if raw is None:
        return None
    s = f"{form_section}.hook"
    if not isinstance(raw, dict):
        r.problems.append(f"[{s}] must be a table")
        return None
    table = dict(raw)
    secret = r.take(table, s, "secret", str, "")
    if len(secret) < 16:
        r.problems.append(f'{s}.secret must be at least 16 characters (use secret = "env:NAME")')
    url_token = r.take(table, s, "url_token", str, "")
    if url_token and len(url_token) < 24:
        r.problems.append(f"{s}.url_token must be at least 24 random characters: it is a password in a URL")
    defaults = HookSettings(secret="")
    names = [n for n in HookSettings.__dataclass_fields__ if n not in ("secret", "url_token")]
    values = {n: r.take(table, s, n, type(getattr(defaults, n)), getattr(defaults, n)) for n in names}
    if not values["email_field"] or not values["consent_field"]:
        r.problems.append(f"{s}: email_field and consent_field must name the submission's fields")
    r.leftovers(table, s)
    return HookSettings(secret=secret, url_token=url_token, **values)


def _admin_keys(table: dict[str, Any], r: Reader) -> tuple[AdminKey, ...]:
    """``[admin.keys.NAME] sha256 = "…", scopes = [...]``: only hashes of keys are configured."""
    keys = []
    entries = table.pop("keys", {})
    r.leftovers(table, "admin")
    if not isinstance(entries, dict):
        r.problems.append("[admin.keys] must be a table of named keys")
        return ()
    for name, entry in entries.items():
        s = f"admin.keys.{name}"
        if not isinstance(entry, dict):
            r.problems.append(f"[{s}] must be a table with sha256 and scopes")
            continue
        entry = dict(entry)
        digest = str(r.take(entry, s, "sha256", str, "")).lower()
        scopes = r.take(entry, s, "scopes", list, [])
        r.leftovers(entry, s)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            r.problems.append(
                f"{s}.sha256 must be the key's SHA-256 in hex (`optin admin-key NAME` prints it)"
            )
        unknown = set(map(str, scopes)) - ADMIN_SCOPES
        if unknown or not scopes:
            r.problems.append(f"{s}.scopes must list some of {', '.join(sorted(ADMIN_SCOPES))}")
        keys.append(AdminKey(name, digest, frozenset(map(str, scopes))))
    return tuple(keys)


def build_settings(raw: Mapping[str, Any], env: Mapping[str, str], source: str) -> Settings:
    """Turn a parsed TOML document into Settings, or raise ConfigError listing every problem."""
    reader = Reader(env)
    data = {k: v for k, v in raw.items()}
    server = _server(table_of(data, "server", reader), reader)
    dev = dataclass_section(DevSettings, table_of(data, "dev", reader), "dev", reader)
    smtp = _smtp(table_of(data, "smtp", reader), server, dev, reader)
    outbox = dataclass_section(OutboxSettings, table_of(data, "outbox", reader), "outbox", reader)
    limits = dataclass_section(LimitSettings, table_of(data, "limits", reader), "limits", reader)
    admin_keys = _admin_keys(table_of(data, "admin", reader), reader)
    connectors: dict[str, dict[str, Any]] = {}
    for name, table in table_of(data, "connectors", reader).items():
        if not isinstance(table, dict):
            reader.problems.append(f"[connectors.{name}] must be a table")
            continue
        connectors[name] = {k: reader.resolve(f"connectors.{name}.{k}", v) for k, v in table.items()}
    forms_raw = table_of(data, "forms", reader)
    demo_form = not forms_raw
    if demo_form:
        forms_raw = {"newsletter": {"title": "Demo Newsletter", "consent_text": DEMO_CONSENT}}
    forms = {}
    for form_id, table in forms_raw.items():
        if not isinstance(table, dict):
            reader.problems.append(f"[forms.{form_id}] must be a table")
            continue
        forms[form_id] = _form(form_id, dict(table), connectors, reader)
    try:
        verifier = VerifierConfig.from_mapping(
            table_of(data, "dns", reader), table_of(data, "verification", reader)
        )
    except ConfigError as exc:
        reader.problems.extend(exc.problems)
        verifier = VerifierConfig()
    reader.leftovers(data, "(top level)")
    if reader.problems:
        raise ConfigError(reader.problems)
    return Settings(
        server=server,
        smtp=smtp,
        forms=forms,
        connectors=connectors,
        outbox=outbox,
        limits=limits,
        admin_keys=admin_keys,
        dev=dev,
        verifier=verifier,
        source=source,
        demo_form=demo_form,
    )


DEMO_CONSENT = "I agree to receive the newsletter by email and can unsubscribe at any time."


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or $OPTIN_CONFIG); with neither, use development defaults."""
    env = dict(os.environ) if env is None else env
    path = path or env.get("OPTIN_CONFIG") or None
    if not path:
        return build_settings({}, env, "built-in development defaults")
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return build_settings(raw, env, str(file))
