"""`optin check-config` catches what `optin serve` would die on, in the same words; settings from
the environment and secret files, the way containers pass them."""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from pathlib import Path

import httpx
import pytest

from service.errors import ConfigError
from service.settings import build_settings
from tests.support.app_server import SECRET, free_port, wait_for
from tests.support.relay import PASSWORD, USER, Relay, run_relay
from tests.test_cli import REPO, config_file, optin

PRODUCTION = f"""[server]
environment = "production"
public_url = "https://signup.example.com"
secret_key = "{SECRET}"
[smtp]
host = "smtp.example.com"
sender = "News <news@example.com>"
"""
FORM = '[forms.news]\ntitle = "News"\n'

# (settings, environment, what both commands must say)
BAD: dict[str, tuple[str, dict[str, str], str]] = {
    "port too high": (
        "[server]\nport = 99999\n",
        {},
        "server.port must be a port number from 1 to 65535, not 99999",
    ),
    "port negative": (
        "[server]\nport = -1\n",
        {},
        "server.port must be a port number from 1 to 65535, not -1",
    ),
    "port in words": (
        '[server]\nport = "eighty"\n',
        {},
        "server.port must be a whole number, not 'eighty'",
    ),
    "port from the environment": (
        "",
        {"OPTIN_SERVER__PORT": "80a"},
        "server.port must be a whole number, not '80a' (from $OPTIN_SERVER__PORT)",
    ),
    "database kind": (
        '[server]\ndatabase = "mysql://optin@db.example.com/optin"\n',
        {},
        "server.database must be sqlite:///PATH or postgresql://USER@HOST/DATABASE",
    ),
    "database without a name": (
        '[server]\ndatabase = "postgres://optin@db.example.com"\n',
        {},
        "server.database names no database",
    ),
    "database under a file": (
        '[server]\ndatabase = "sqlite:///{tmp}/a-file/optin.db"\n',
        {},
        "a-file is not a directory, so",
    ),
    "owner address": (
        '[server]\nowner_email = "owner"\n',
        {},
        "server.owner_email must be an address such as \"owner@example.com\", not 'owner'",
    ),
    "sender address": (
        '[smtp]\nhost = "smtp.example.com"\nsender = "News"\n',
        {},
        "smtp.sender must be an address such as",
    ),
    "http in production": (
        PRODUCTION.replace("https://", "http://") + FORM,
        {},
        "server.public_url must start with https:// in production",
    ),
    "no form in production": (
        PRODUCTION,
        {},
        "no [forms.NAME] is configured: production needs at least one form",
    ),
    "section typo smpt": (
        '[smpt]\nhost = "smtp.example.com"\n',
        {},
        "[smpt] is not a section optin knows (did you mean [smtp]?)",
    ),
    "section typo form": ("[form.news]\n", {}, "[form] is not a section optin knows (did you mean [forms]?)"),
    "key typo": (
        '[server]\npubilc_url = "https://a.example.com"\n',
        {},
        "server.pubilc_url is not a setting optin knows (did you mean public_url?)",
    ),
    "boolean in words": (
        "[server]\ntruncate_ips = 1\n",
        {},
        "server.truncate_ips must be true or false, not 1",
    ),
    "secret file missing": (
        '[smtp]\nhost = "smtp.example.com"\nsender = "a@example.com"\n',
        {"OPTIN_SMTP__PASSWORD_FILE": "/nonexistent/secret"},
        "$OPTIN_SMTP__PASSWORD_FILE names the file /nonexistent/secret, which cannot be read (No such file or directory)",
    ),
    "no connection to the relay": (
        '[smtp]\nhost = "smtp.example.com"\nsender = "a@example.com"\nmax_connections = 0\n',
        {},
        "smtp.max_connections must be more than 0, not 0",
    ),
    "connections in words": (
        '[smtp]\nhost = "smtp.example.com"\nsender = "a@example.com"\nmax_connections = "four"\n',
        {},
        "smtp.max_connections must be a whole number, not 'four'",
    ),
    "a delay of nan": (
        "[outbox]\nbase_delay = nan\n",
        {},
        "outbox.base_delay must be a finite number, not nan",
    ),
    "a timeout of inf": (
        '[smtp]\nhost = "smtp.example.com"\nsender = "a@example.com"\ntimeout = inf\n',
        {},
        "smtp.timeout must be a finite number, not inf",
    ),
    "a number past int's 4,300 digits": (
        "[limits]\nsignups_per_ip_hour = " + "9" * 5000 + "\n",
        {},
        "holds a value that cannot be read",
    ),
    "a number past int's digits from the environment": (
        "",
        {"OPTIN_LIMITS__SIGNUPS_PER_IP_HOUR": "9" * 5000},
        "limits.signups_per_ip_hour must be a whole number, not '999",
    ),
    "arrays nested deeper than can be read": (
        "[server]\ntrusted_proxies = " + "[" * 5000 + "\n",
        {},
        "nests arrays or tables deeper than can be read",
    ),
    "a NUL in a consent text": (
        '[forms.news]\nconsent_text = "Yes\\u0000, email me"\n',
        {},
        "forms.news.consent_text holds a control character (such as \\u0000); remove it",
    ),
    "consent not in the form's language": (
        '[forms.news]\nlanguage = "en"\n[forms.news.consent_text]\nfr = "Oui"\n',
        {},
        "forms.news.consent_text has no text in en, the form's language",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_check_config_and_serve_refuse_in_the_same_words(case: str, tmp_path: Path) -> None:
    body, extra_env, words = BAD[case]
    (tmp_path / "a-file").write_text("not a folder")
    body = body.format(tmp=tmp_path)
    if "database" not in body:  # every case on its own database, beside its settings
        database = f'database = "sqlite:///{tmp_path}/optin.db"\n'
        body = (
            body.replace("[server]\n", f"[server]\n{database}", 1)
            if "[server]" in body
            else f"[server]\n{database}{body}"
        )
    config = config_file(tmp_path, body)
    port = str(free_port())
    checked = await optin("check-config", "--config", config, env=extra_env)
    served = await optin("serve", "--config", config, "--port", port, env=extra_env)
    assert checked[0] == served[0] == 2, (checked, served)
    assert checked[1] == served[1], "check-config and serve must say exactly the same"
    assert checked[1].startswith("The configuration cannot be used:\n  - ")
    assert words in checked[1], checked[1]
    assert "Traceback" not in checked[1]


def test_postgresql_urls_have_the_right_form_and_do_not_migrate_by_themselves() -> None:
    for url in (
        "postgresql://optin@db.example.com/optin",
        "postgres://optin:pw@db.example.com:5432/optin?sslmode=require",
        "postgresql:///optin?host=/var/run/postgresql",
    ):
        settings = build_settings({"server": {"database": url, "secret_key": SECRET}}, {}, "test")
        assert settings.server.auto_migrate is False, url
    sqlite = build_settings({"server": {"database": "sqlite:///:memory:", "secret_key": SECRET}}, {}, "test")
    assert sqlite.server.auto_migrate is True
    with pytest.raises(ConfigError, match="auto_migrate must be true or false"):
        build_settings({"server": {"auto_migrate": "yes"}}, {}, "test")


async def test_development_says_the_demo_form_stands_in(tmp_path: Path) -> None:
    config = config_file(
        tmp_path, f'[server]\nsecret_key = "{SECRET}"\ndatabase = "sqlite:///{tmp_path}/a.db"\n'
    )
    code, out = await optin("check-config", "--config", config, env={})
    assert code == 0
    assert "no [forms.NAME] is configured, so the demo form 'newsletter' stands in" in out


async def test_check_config_says_how_many_connections_the_relay_gets(tmp_path: Path) -> None:
    database = f'database = "sqlite:///{tmp_path}/a.db"'
    relay = '[smtp]\nhost = "smtp.example.com"\nsender = "a@example.com"\nmax_connections = 12\n'
    config = config_file(tmp_path, f'[server]\nsecret_key = "{SECRET}"\n{database}\n{relay}')
    code, out = await optin("check-config", "--config", config, env={})
    assert code == 0, out
    assert "up to 12 connection(s) at once per worker process" in out
    assert "note: smtp.max_connections is 12 but outbox.concurrency 8: at most 8 emails go at once" in out


ENV_ONLY = {
    "OPTIN_SERVER__SECRET_KEY": SECRET,
    "OPTIN_SERVER__PUBLIC_URL": "https://signup.example.com",
    "OPTIN_SERVER__ENVIRONMENT": "production",
    "OPTIN_SMTP__HOST": "127.0.0.1",
    "OPTIN_SMTP__SENDER": "News <news@example.com>",
    "OPTIN_SMTP__USERNAME": USER,
    "OPTIN_FORMS__NEWSLETTER__TITLE": "Newsletter",
    "OPTIN_FORMS__NEWSLETTER__ALLOWED_ORIGINS": '["https://www.example.com", "https://example.com"]',
    "OPTIN_FORMS__NEWSLETTER__CONSENT_TEXT": '{"en": "Yes, email me.", "fr": "Oui, écrivez-moi."}',
    "OPTIN_FORMS__NEWSLETTER__ANTIBOT__MIN_FILL_SECONDS": "0",
    "OPTIN_LIMITS__SIGNUPS_PER_IP_HOUR": "5",
}


async def test_serve_from_the_environment_alone(tmp_path: Path, nameserver: str) -> None:
    """No settings file at all: what a container gets from its orchestrator."""
    port = free_port()
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")  # as `echo` and most secret stores write it
    env = {
        **os.environ,
        **ENV_ONLY,
        "OPTIN_SERVER__PORT": str(port),
        "OPTIN_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OPTIN_SERVER__DATABASE": f"sqlite:///{tmp_path}/optin.db",
        "OPTIN_SMTP__PASSWORD_FILE": str(secret),
        "OPTIN_SMTP__PORT": "2525",
        "OPTIN_DNS__NAMESERVERS": f'["{nameserver}"]',
    }
    env.pop("OPTIN_CONFIG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *["-m", "service", "serve"],
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def up() -> bool:
                if proc.returncode is not None:
                    raise AssertionError("serve stopped")
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(up, timeout=30, what="serve from the environment")
            form = (await http.get("/v1/forms/newsletter")).json()
            assert form["title"] == "Newsletter" and form["consent_text"] == "Yes, email me."
            assert form["consent_texts"] == {"en": "Yes, email me.", "fr": "Oui, écrivez-moi."}
            allowed = await http.options(
                "/v1/forms/newsletter/subscribe",
                headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
            )
            assert allowed.headers.get("access-control-allow-origin") == "https://example.com"
    finally:
        proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    assert "settings: the environment" in out.decode()


async def test_check_config_says_where_each_value_came_from(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("hunter2-hunter2\n")
    config = config_file(
        tmp_path,
        f'[server]\nsecret_key = "env:MY_KEY"\ndatabase = "sqlite:///{tmp_path}/a.db"\nport = 8000\n'
        '[smtp]\nhost = "smtp.example.com"\nsender = "a@example.com"\n',
    )
    env = {"MY_KEY": SECRET, "OPTIN_SERVER__PORT": "8123", "OPTIN_SMTP__PASSWORD_FILE": str(secret)}
    code, out = await optin("check-config", "--config", config, env=env)
    assert code == 0, out
    assert f"{config}: OK" in out
    assert "from the environment" in out and "from secret files" in out
    lines = {
        line.split()[0]: line.split(None, 1)[1]
        for line in out.splitlines()
        if line.startswith("  server.") or line.startswith("  smtp.")
    }
    assert lines["server.port"] == "$OPTIN_SERVER__PORT"  # the environment wins over the file
    assert lines["server.secret_key"] == f"{config} → $MY_KEY"
    assert lines["smtp.password"] == f"file {secret} ($OPTIN_SMTP__PASSWORD_FILE)"

    code, shown = await optin("check-config", "--show", "--config", config, env=env)
    assert code == 0
    assert "port = 8123" in shown and "# $OPTIN_SERVER__PORT" in shown
    assert 'host = "smtp.example.com"' in shown and f"# {config}" in shown
    assert 'password = "********"' in shown and 'secret_key = "********"' in shown
    assert "hunter2" not in shown and SECRET not in shown


async def test_show_masks_every_secret(tmp_path: Path) -> None:
    secrets = {
        "smtp": "smtp-pass-1234567890",
        "hook": "hook-secret-1234567890",
        "token": "url-token-abcdefghijklmnopqrstuvwxyz",
        "esp": "esp-key-1234567890-us21",
        "webhook": "webhook-secret-1234567890",
        "db": "db-password-123",
    }
    config = config_file(
        tmp_path,
        f"""[server]
secret_key = "{SECRET}"
database = "postgresql://optin:{secrets["db"]}@db.example.com/optin"
[smtp]
host = "smtp.example.com"
sender = "a@example.com"
username = "u"
password = "{secrets["smtp"]}"
[connectors.list]
kind = "mailchimp"
api_key = "{secrets["esp"]}"
list_id = "abc123"
[connectors.hook]
kind = "webhook"
url = "https://hooks.example.com/catch?token={secrets["webhook"]}"
secret = "{secrets["webhook"]}"
[forms.news]
connector = "list"
[forms.news.hook]
secret = "{secrets["hook"]}"
url_token = "{secrets["token"]}"
""",
    )
    code, shown = await optin("check-config", "--show", "--config", config, env={})
    assert code == 0, shown
    for name, value in secrets.items():
        assert value not in shown, name
    assert SECRET not in shown
    assert 'list_id = "abc123"' in shown and 'username = "u"' in shown  # what is not secret is shown
    assert 'database = "postgresql://optin:********@db.example.com/optin"' in shown


async def test_a_secret_file_reaches_the_relay_without_its_newline(
    server_context: ssl.SSLContext, ca_file: str, tmp_path: Path
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    env = {
        "OPTIN_SERVER__DATABASE": f"sqlite:///{tmp_path}/a.db",
        "OPTIN_SERVER__SECRET_KEY": SECRET,
        "OPTIN_SMTP__HOST": "127.0.0.1",
        "OPTIN_SMTP__SECURITY": "starttls",
        "OPTIN_SMTP__USERNAME": USER,
        "OPTIN_SMTP__PASSWORD_FILE": str(secret),
        "OPTIN_SMTP__SENDER": "a@example.com",
        "OPTIN_SMTP__TLS_CA_FILE": ca_file,  # a setting whose own name ends in _FILE
        "OPTIN_SMTP__TIMEOUT": "3",
    }
    async with run_relay(Relay(), mode="starttls", server_context=server_context) as relay:
        code, out = await optin("smtp-test", env={**env, "OPTIN_SMTP__PORT": str(relay.port)})
    assert code == 0, out
    assert f"port {relay.port} (STARTTLS): works — TLS established, logged in as {USER}" in out
