"""The `optin` command as a site owner uses it: check-config, smtp-test, outbox, export."""

from __future__ import annotations

import asyncio
import csv
import io
import ssl
import sys
from pathlib import Path
from typing import Literal

from service.mail.smtp import SmtpMailer
from service.settings import SmtpSettings
from tests.support.app_server import SECRET, client, confirm, link_in, relay_settings, serve, wait_for
from tests.support.relay import PASSWORD, USER, Relay, run_relay
from tests.test_smtp import message

REPO = Path(__file__).resolve().parent.parent


async def optin(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def config_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "optin.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


async def test_check_config_explains_each_problem(tmp_path: Path) -> None:
    bad = config_file(tmp_path, '[server]\nenvironment = "production"\n[smtp]\nport = 26\n')
    code, out = await optin("--config", bad, "check-config", env={})
    assert code == 2
    assert "The configuration cannot be used:" in out
    assert "  - server.secret_key is required in production" in out
    assert "  - smtp.port must be 587, 465, 2525" not in out  # 26 is a number: explained differently
    assert "smtp.host is required in production" in out
    assert "Traceback" not in out

    good = config_file(
        tmp_path, f'[server]\nsecret_key = "{SECRET}"\ndatabase = "sqlite:///{tmp_path}/a.db"\n'
    )
    code, out = await optin("--config", good, "check-config", env={})
    assert code == 0 and "OK" in out and "development mail catcher" in out


async def test_smtp_test_reports_which_standard_ports_work(
    server_context: ssl.SSLContext, ca_file: str, tmp_path: Path
) -> None:
    # 127.0.0.2 is loopback too: the real port numbers, without colliding with anything on 127.0.0.1.
    config = config_file(
        tmp_path,
        f"""[server]
secret_key = "{SECRET}"
database = "sqlite:///{tmp_path}/a.db"
[smtp]
host = "127.0.0.2"
username = "{USER}"
password = "env:PW"
sender = "a@example.com"
tls_ca_file = "{ca_file}"
timeout = 3
""",
    )
    starttls = run_relay(Relay(), mode="starttls", server_context=server_context, host="127.0.0.2", port=587)
    implicit = run_relay(Relay(), mode="tls", server_context=server_context, host="127.0.0.2", port=465)
    async with starttls, implicit:
        code, out = await optin("--config", config, "smtp-test", env={"PW": PASSWORD})
    assert code == 0, out
    assert "port 587 (STARTTLS): works" in out
    assert "port 465 (implicit TLS): works" in out
    assert "port 2525 (STARTTLS): does not work — connection refused" in out
    assert 'optin will send through port 587 (STARTTLS) (port = "auto" finds it' in out


def relay_config(tmp_path: Path, ca_file: str, host: str, port: int | str, security: str) -> str:
    return config_file(
        tmp_path,
        f"""[server]
secret_key = "{SECRET}"
database = "sqlite:///{tmp_path}/a.db"
[smtp]
host = "{host}"
port = {port}
security = "{security}"
username = "{USER}"
password = "env:PW"
sender = "a@example.com"
tls_ca_file = "{ca_file}"
timeout = 3
""",
    )


async def test_smtp_test_tries_the_configured_port_and_security_first(
    server_context: ssl.SSLContext, ca_file: str, tmp_path: Path
) -> None:
    """A relay on a custom port: what the mailer would use is what is tested, then the rest."""
    modes: tuple[tuple[Literal["starttls", "tls"], str], ...] = (
        ("starttls", "STARTTLS"),
        ("tls", "implicit TLS"),
    )
    for mode, words in modes:
        security = mode
        async with run_relay(Relay(), mode=mode, server_context=server_context, host="127.0.0.3") as relay:
            config = relay_config(tmp_path, ca_file, "127.0.0.3", relay.port, security)
            code, out = await optin("--config", config, "smtp-test", env={"PW": PASSWORD})
        assert code == 0, out
        lines = out.splitlines()
        assert lines[0] == f'The relay as configured: 127.0.0.3, port = {relay.port}, security = "{security}"'
        assert lines[1] == f"  port {relay.port} ({words}): works — TLS established, logged in as {USER}"
        assert lines[2] == "Other standard ports on the same host:"
        assert "port 587 (STARTTLS): does not work — connection refused" in out
        assert lines[-1] == "The relay works as configured."


async def test_smtp_test_says_which_other_port_works(
    server_context: ssl.SSLContext, ca_file: str, tmp_path: Path
) -> None:
    config = relay_config(tmp_path, ca_file, "127.0.0.3", 2600, "starttls")  # nothing listens there
    async with run_relay(Relay(), mode="tls", server_context=server_context, host="127.0.0.3", port=465):
        code, out = await optin("--config", config, "smtp-test", env={"PW": PASSWORD})
    assert code == 1, out
    assert "port 2600 (STARTTLS): does not work — connection refused" in out
    assert "port 465 (implicit TLS): works" in out
    assert out.splitlines()[-1] == (
        'The relay does not work as configured, but port 465 (implicit TLS) does: set port = 465 and security = "tls".'
    )

    code, out = await optin("--config", config, "smtp-test", env={"PW": "wrong"})
    assert code == 1
    assert "Nothing works on 127.0.0.3" in out


async def test_auto_uses_the_real_port_order(server_context: ssl.SSLContext, ca_file: str) -> None:
    """Nothing on 127.0.0.3:587, a relay on :2525: auto falls back to it by itself."""
    settings = SmtpSettings(
        host="127.0.0.3",
        port="auto",
        sender="a@example.com",
        username=USER,
        password=PASSWORD,
        tls_ca_file=ca_file,
    )
    async with run_relay(
        Relay(), mode="starttls", server_context=server_context, host="127.0.0.3", port=2525
    ) as relay:
        reply = await SmtpMailer(settings).send(message(), "reader@example.org")
    assert "port 2525" in reply and len(relay.messages) == 1


async def test_outbox_and_export(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, tmp_path: Path
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            for name, email in (("Ola", "ola@example.org"), ("=cmd", "pia@example.org")):
                await http.post(
                    "/v1/forms/newsletter/subscribe",
                    json={"email": email, "first_name": name, "consent": True},
                    headers={"User-Agent": "=HYPERLINK(evil)"},
                )
            await wait_for(lambda: len(starttls_relay.messages) == 2, what="two confirmations")
            await confirm(http, link_in(starttls_relay.to("ola@example.org")[0], "confirm"))
    config = config_file(tmp_path, f'[server]\nsecret_key = "{SECRET}"\ndatabase = "{db_url}"\n')
    target = tmp_path / "contacts.csv"
    code, out = await optin("--config", config, "export", "--status", "confirmed", "-o", str(target), env={})
    assert code == 0 and "exported 1 contact(s)" in out
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["email"] for r in rows] == ["ola@example.org"]
    assert rows[0]["first_name"] == "Ola" and rows[0]["consent_text"] == "Yes, email me."
    assert rows[0]["signup_user_agent"] == "'=HYPERLINK(evil)"  # defused for spreadsheets
    assert rows[0]["confirmed_at"]

    code, out = await optin("--config", config, "outbox", env={})
    assert code == 0 and "2 done" in out and "confirmation_email" in out
    code, out = await optin("--config", config, "outbox", "drop", "1", env={})
    assert code == 1 and "dropped: 0" in out  # a delivered job cannot be dropped
    code, out = await optin("--config", config, "outbox", "retry", "999", env={})
    assert code == 1 and "queued again: 0" in out


async def test_dead_letters_go_out_once_the_cause_is_fixed(
    server_context: ssl.SSLContext, ca_file: str, db_url: str, nameserver: str, tmp_path: Path
) -> None:
    """What a site owner does after a relay refused mail: fix the relay, retry the dead jobs."""
    relay = Relay(rcpt_reply="550 5.7.1 sender not allowed")
    config = config_file(tmp_path, f'[server]\nsecret_key = "{SECRET}"\ndatabase = "{db_url}"\n')
    async with run_relay(relay, mode="starttls", server_context=server_context):
        async with serve(relay_settings(db_url, nameserver, relay, ca_file)) as (url, _):
            async with client(url) as http:
                await http.post(
                    "/v1/forms/newsletter/subscribe", json={"email": "rae@example.org", "consent": True}
                )

                async def dead() -> bool:
                    return bool((await http.get("/healthz")).json()["outbox"]["dead"] == 1)

                await wait_for(dead, what="the refused confirmation to be dead-lettered")
                code, out = await optin("--config", config, "outbox", "--state", "dead", env={})
                assert code == 0 and "550 5.7.1 sender not allowed" in out

                relay.rcpt_reply = None  # the owner fixes the relay's sender rules
                code, out = await optin("--config", config, "outbox", "retry", "--all-dead", env={})
                assert code == 0 and "queued again: 1 job(s)" in out
                await wait_for(lambda: relay.to("rae@example.org"), what="the retried confirmation")
                assert (await http.get("/healthz")).json()["outbox"]["dead"] == 0
    assert len(relay.messages) == 1
