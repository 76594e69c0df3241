"""`optin smtp-test --send-to ADDRESS`: one real, signed test message, and the relay's answer in words."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dkim

from service.deliverability.dns import Dns
from service.mail.preview import render_preview
from service.mail.smtp import SmtpMailer
from service.render import Renderer
from service.settings import load_settings
from service.tokens import Tokens
from tests.deliverability.conftest import dkim_txt
from tests.deliverability.test_dkim import SENDER
from tests.support.app_server import SECRET
from tests.support.relay import PASSWORD, USER, Relay
from tests.test_cli import config_file, optin


def relay_config(tmp_path: Path, relay: Relay, ca_file: str, key_file: Path) -> str:
    return config_file(
        tmp_path,
        f"""[server]
secret_key = "{SECRET}"
database = "sqlite:///{tmp_path}/a.db"
[smtp]
host = "127.0.0.1"
port = {relay.port}
security = "starttls"
username = "{USER}"
password = "env:PW"
sender = "{SENDER}"
tls_ca_file = "{ca_file}"
timeout = 3
[smtp.dkim]
selector = "s1"
private_key_file = "{key_file}"
""",
    )


async def test_send_to_delivers_one_signed_message_and_reports_the_answer(
    tmp_path: Path, starttls_relay: Relay, ca_file: str, key_file: Path, zone_dns: Dns
) -> None:
    relay = starttls_relay
    config = relay_config(tmp_path, relay, ca_file, key_file)
    code, out = await optin(
        "--config", config, "smtp-test", "--send-to", "owner@example.org", env={"PW": PASSWORD}
    )
    assert code == 0, out
    assert "The relay works as configured." in out
    assert "Sending a test message to owner@example.org:" in out
    assert f"✓ the relay accepted it: 127.0.0.1 port {relay.port} (STARTTLS): Message accepted" in out
    (raw,) = relay.raws
    assert relay.envelopes == [("news@sender-ok.com", ("owner@example.org",))]
    assert b"Subject: optin: test message" in raw
    assert b"It is DKIM-signed for sender-ok.com with the selector s1." in raw
    assert dkim.verify(raw, dnsfunc=dkim_txt(zone_dns))


async def test_send_to_says_what_the_relay_refused(
    tmp_path: Path, starttls_relay: Relay, ca_file: str, key_file: Path
) -> None:
    relay = starttls_relay
    config = relay_config(tmp_path, relay, ca_file, key_file)
    relay.rcpt_reply = "550 5.1.1 No such user here"
    code, out = await optin(
        "--config", config, "smtp-test", "--send-to", "ghost@example.org", env={"PW": PASSWORD}
    )
    assert code == 1, out
    assert (
        "✗ the relay refused it for good: the relay refused the recipient: 550 5.1.1 No such user here" in out
    )

    relay.rcpt_reply = None
    relay.data_replies = ["421 4.7.0 Try again later, closing connection"]
    code, out = await optin(
        "--config", config, "smtp-test", "--send-to", "busy@example.org", env={"PW": PASSWORD}
    )
    assert code == 1, out
    assert "✗ the relay did not take it this time:" in out and "421 4.7.0 Try again later" in out

    code, out = await optin(
        "--config", config, "smtp-test", "--send-to", "not an address", env={"PW": PASSWORD}
    )
    assert code == 1 and "--send-to must be an address such as" in out
    assert not relay.raws

    code, out = await optin(
        "--config", config, "smtp-test", "--send-to", "x@example.org", env={"PW": "wrong"}
    )
    assert code == 1 and "Not sending to x@example.org: the relay does not work as configured." in out


async def test_the_owners_alerts_come_from_their_own_address(
    tmp_path: Path, starttls_relay: Relay, ca_file: str, key_file: Path, zone_dns: Dns
) -> None:
    relay = starttls_relay
    settings = load_settings(relay_config(tmp_path, relay, ca_file, key_file), {"PW": PASSWORD})
    smtp = replace(settings.smtp, alerts_sender="optin alerts <ops@sender-ok.com>")
    settings = replace(settings, smtp=smtp, server=replace(settings.server, owner_email="owner@example.org"))
    renderer = Renderer(settings.server.templates_dir)
    alert = render_preview(settings, renderer, Tokens(SECRET), "alert", "", "en")
    confirmation = render_preview(settings, renderer, Tokens(SECRET), "confirm", "newsletter", "en")
    assert alert.message["From"] == "optin alerts <ops@sender-ok.com>"
    assert confirmation.message["From"] == SENDER  # subscription mail keeps smtp.sender
    mailer = SmtpMailer(smtp)
    try:
        await mailer.send(alert.message, "owner@example.org", sender=smtp.alerts_from)
    finally:
        await mailer.aclose()
    assert relay.envelopes == [("ops@sender-ok.com", ("owner@example.org",))]  # bounces go to ops@
    assert dkim.verify(relay.raws[0], dnsfunc=dkim_txt(zone_dns))
