"""deploy/compose.yaml: valid against the Compose specification, every reference defined, the
start order web and worker need, and a "try" profile whose Mailpit optin's TLS really trusts."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.mail.smtp import SmtpMailer
from service.settings_types import SmtpSettings
from tests.deploy.files import DEPLOY, DEV_EXTRAS, tool

COMPOSE = DEPLOY / "compose.yaml"
OPTIN_SERVICES = ("migrate", "web", "worker")


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())  # resolves the <<: merge keys, as Compose does
    assert isinstance(document, dict)
    return document


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} (unset or empty) and ${VAR-default} (unset only)."""

    def one(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2) or "", match.group(3) or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return re.sub(r"\$\{(\w+)(:-|-)?([^}]*)\}", one, value)


def environment(service: str, env: dict[str, str] | None = None) -> dict[str, str]:
    raw = compose()["services"][service].get("environment", {})
    return {k: interpolate(str(v), env or {}) for k, v in raw.items()}


def check_compose_validator(path: Path) -> subprocess.CompletedProcess[str]:
    checker = tool("check-jsonschema", f"the check-jsonschema package: {DEV_EXTRAS}")
    return subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_file_matches_the_compose_specification(tmp_path: Path) -> None:
    result = check_compose_validator(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    # The same check refuses a misspelt key, so its pass above means something.
    typo = tmp_path / "compose.yaml"
    typo.write_text(COMPOSE.read_text().replace("stop_grace_period: 40s", "stop_grace_periods: 40s"))
    assert check_compose_validator(typo).returncode != 0


def structural_problems(doc: dict[str, Any]) -> tuple[list[str], int]:
    """What `docker compose config` would refuse: returns the problems and how many links were checked."""
    problems: list[str] = []
    checked = 0
    services: dict[str, Any] = doc["services"]
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            checked += 1
            if dependency not in services:
                problems.append(f"{name} depends on undefined service {dependency}")
            elif condition.get("required", True) and not set(services[dependency].get("profiles", [])) <= set(
                service.get("profiles", [])
            ):
                problems.append(f"{name} requires {dependency}, which only starts with a profile")
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            checked += 1
            if not source.startswith((".", "/")) and source not in (doc.get("volumes") or {}):
                problems.append(f"{name} mounts undefined volume {source}")
            if source.startswith(".") and not (COMPOSE.parent / source).exists():
                problems.append(f"{name} mounts {source}, which does not exist")
        for secret in service.get("secrets", []):
            checked += 1
            if secret not in (doc.get("secrets") or {}):
                problems.append(f"{name} uses undefined secret {secret}")
        for network in service.get("networks") or {}:
            checked += 1
            if network != "default" and network not in (doc.get("networks") or {}):
                problems.append(f"{name} joins undefined network {network}")
    return problems, checked


def test_compose_config_or_its_structural_check() -> None:
    """`docker compose config` where the Compose plugin exists; else (here, and in CI) the same
    references checked by hand: this test never passes without having checked them."""
    problems, checked = structural_problems(compose())
    assert problems == [] and checked >= 20, (problems, checked)
    docker = shutil.which("docker")
    has_plugin = (
        docker is not None
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if has_plugin:
        assert docker is not None
        result = subprocess.run(
            [
                docker,
                "compose",
                "-f",
                str(COMPOSE),
                "--profile",
                "try",
                "--profile",
                "proxy",
                "config",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr


def test_structural_check_finds_broken_references() -> None:
    doc = compose()
    doc["services"]["web"]["depends_on"]["migrat"] = {"condition": "service_completed_successfully"}
    doc["services"]["worker"]["depends_on"]["mailpit"]["required"] = True
    doc["services"]["db"]["volumes"].append("pgdta:/elsewhere")
    # (a new list: the YAML anchor shares one secrets list among the optin services)
    doc["services"]["migrate"]["secrets"] = [*doc["services"]["migrate"]["secrets"], "smtp_pasword"]
    problems, _ = structural_problems(doc)
    assert sorted(problems) == [
        "db mounts undefined volume pgdta",
        "migrate uses undefined secret smtp_pasword",
        "web depends on undefined service migrat",
        "worker requires mailpit, which only starts with a profile",
    ]


def test_migration_runs_once_before_web_and_worker_start() -> None:
    services = compose()["services"]
    db = services["db"]
    assert db["image"] == "postgres:15"
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "postgres_password" in db["secrets"] and any(
        v.endswith(":/var/lib/postgresql/data") for v in db["volumes"]
    )
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"] == {"condition": "service_healthy"}
    for name, role in (("web", "web"), ("worker", "worker")):
        service = services[name]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        command = service["command"]
        assert command[:3] == ["serve", "--role", role] and command[command.index("--host") + 1] == "0.0.0.0"
        # SIGTERM drains within ~30 s: Compose must wait longer before SIGKILL.
        assert int(service["stop_grace_period"].removesuffix("s")) >= 35
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_secrets_are_files_named_by_the_file_settings() -> None:
    doc = compose()
    for name in OPTIN_SERVICES:
        env = environment(name)
        # Development only for the "try" profile; deploy/.env (from .env.example) says production.
        assert env["OPTIN_SERVER__ENVIRONMENT"] == "development"
        assert "OPTIN_SERVER__ENVIRONMENT=production" in (DEPLOY / ".env.example").read_text()
        for setting, secret in (
            ("OPTIN_SERVER__SECRET_KEY_FILE", "optin_secret_key"),
            ("OPTIN_SERVER__DATABASE_FILE", "database_url"),
            ("OPTIN_SMTP__PASSWORD_FILE", "smtp_password"),
        ):
            assert env[setting] == f"/run/secrets/{secret}" and secret in doc["services"][name]["secrets"]
        assert not any(k.endswith(("SECRET_KEY", "PASSWORD", "__DATABASE")) for k in env), env


def test_compose_secrets_script_makes_every_secret_file_once(tmp_path: Path) -> None:
    target = tmp_path / "secrets"
    script = DEPLOY / "compose-secrets.sh"
    first = subprocess.run(["sh", str(script), str(target)], capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    declared = {Path(s["file"]).name for s in compose()["secrets"].values()}
    assert {p.name for p in target.iterdir()} == declared
    assert all(Path(s["file"]).parent == Path("secrets") for s in compose()["secrets"].values())
    assert target.stat().st_mode & 0o777 == 0o700
    values = {p.name: p.read_text() for p in target.iterdir()}
    assert re.fullmatch(r"[0-9a-f]{64}", values["optin_secret_key"])
    assert values["database_url"] == f"postgresql://optin:{values['postgres_password']}@db/optin"
    assert values["smtp_password"] == ""
    # A second run keeps every value: a secret is never replaced behind the owner's back.
    (target / "smtp_password").write_text("relay password")
    second = subprocess.run(["sh", str(script), str(target)], capture_output=True, text=True, timeout=30)
    assert second.returncode == 0 and "created" not in second.stdout
    assert {p.name: p.read_text() for p in target.iterdir()} == {**values, "smtp_password": "relay password"}


def test_only_the_proxy_profiles_caddy_is_a_trusted_proxy() -> None:
    doc = compose()
    subnet = doc["networks"]["default"]["ipam"]["config"][0]
    caddy_address = ipaddress.ip_address(doc["services"]["caddy"]["networks"]["default"]["ipv4_address"])
    assert caddy_address in ipaddress.ip_network(subnet["subnet"])
    # Docker hands out addresses from ip_range only, so no other container can ever get Caddy's.
    assert caddy_address not in ipaddress.ip_network(subnet["ip_range"])
    for name in OPTIN_SERVICES:
        assert json.loads(environment(name)["OPTIN_SERVER__TRUSTED_PROXIES"]) == [str(caddy_address)]
    caddy = doc["services"]["caddy"]
    assert caddy["profiles"] == ["proxy"] and "./proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert caddy["environment"]["OPTIN_UPSTREAM"] == "web:8000"


def test_try_profile_points_optin_at_mailpit_over_starttls() -> None:
    doc = compose()
    services = doc["services"]
    assert services["mailpit"]["profiles"] == ["try"] and services["try-certs"]["profiles"] == ["try"]
    assert all("profiles" not in services[name] for name in ("db", *OPTIN_SERVICES))
    env = environment("web")  # nothing set: the defaults the try profile runs with
    assert (env["OPTIN_SMTP__HOST"], env["OPTIN_SMTP__PORT"], env["OPTIN_SMTP__SECURITY"]) == (
        "mailpit",
        "1025",
        "starttls",
    )
    assert "@" in env["OPTIN_SMTP__SENDER"]
    # The certificate try-certs writes is the one Mailpit serves and the one optin trusts.
    written = re.search(r"-out (\S+)", services["try-certs"]["command"][0])
    assert written is not None and written.group(1) == "/data/mailpit.crt"
    assert "try-certs:/data" in services["try-certs"]["volumes"]
    assert services["mailpit"]["environment"]["MP_SMTP_TLS_CERT"] == "/certs/mailpit.crt"
    assert "try-certs:/certs:ro" in services["mailpit"]["volumes"]
    assert (
        env["OPTIN_SMTP__TLS_CA_FILE"] == "/try/mailpit.crt"
        and "try-certs:/try:ro" in services["web"]["volumes"]
    )
    assert services["mailpit"]["environment"]["MP_SMTP_REQUIRE_STARTTLS"] == "true"
    # Production (deploy/.env) replaces the relay, and an empty CA file means the usual CAs.
    production = environment("web", {"OPTIN_SMTP__HOST": "smtp.example.com", "OPTIN_SMTP__TLS_CA_FILE": ""})
    assert (production["OPTIN_SMTP__HOST"], production["OPTIN_SMTP__TLS_CA_FILE"]) == ("smtp.example.com", "")


def _serve_tls_once(context: ssl.SSLContext, listener: socket.socket) -> None:
    connection, _ = listener.accept()
    try:
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(b"220 mailpit\r\n")
    except (ssl.SSLError, OSError):
        pass  # the client refused our certificate; that is its test's business


def handshake(cert: Path, key: Path, ca_file: Path, server_hostname: str) -> bytes:
    """A TLS server on loopback with Mailpit's certificate; the client is optin's own context."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    mailer = SmtpMailer(
        SmtpSettings(
            host="mailpit",
            port=1025,
            sender="o <o@example.com>",
            security="starttls",
            tls_ca_file=str(ca_file),
        )
    )
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=_serve_tls_once, args=(server, listener), daemon=True)
        thread.start()
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            with mailer._tls.wrap_socket(raw, server_hostname=server_hostname) as tls:
                greeting = tls.recv(100)
        thread.join(10)
    return greeting


def test_try_certificate_is_one_optin_trusts_for_mailpit_only(tmp_path: Path) -> None:
    """Runs try-certs' own openssl command, then optin's TLS context verifies the result."""
    openssl = tool("openssl", "apt-get install openssl")
    script = compose()["services"]["try-certs"]["command"][0]
    guard, _, generate = script.partition(" || exec ")
    assert guard == "test -s /data/mailpit.crt"  # made once: Mailpit and optin keep agreeing
    argv = [arg.replace("/data/", f"{tmp_path}/") for arg in shlex.split(generate)]
    assert argv[0] == "openssl"
    # It runs in optin's image (entrypoint overridden), whose build checks openssl is there.
    assert compose()["services"]["try-certs"]["image"] == compose()["services"]["web"]["image"]
    assert "openssl version" in (DEPLOY / "Dockerfile").read_text()
    result = subprocess.run([openssl, *argv[1:]], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    cert, key = tmp_path / "mailpit.crt", tmp_path / "mailpit.key"
    assert handshake(cert, key, cert, "mailpit") == b"220 mailpit\r\n"
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(cert, key, cert, "smtp.example.com")


def test_env_example_names_only_settings_compose_passes_on() -> None:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    names = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert "COMPOSE_PROFILES" in names and "OPTIN_SMTP__TLS_CA_FILE" in names
    # Every other line is an optin setting: OPTIN_<SECTION>__<KEY>, nothing secret.
    for name in names:
        if name != "COMPOSE_PROFILES":
            assert re.fullmatch(r"OPTIN_[A-Z]+__[A-Z0-9_]+", name) and "PASSWORD" not in name, name
    assert compose()["services"]["web"]["env_file"] == [{"path": ".env", "required": False}]
    assert os.path.basename(COMPOSE.parent / ".env") in (DEPLOY / ".gitignore").read_text()
