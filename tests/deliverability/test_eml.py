"""`optin doctor --eml FILE`: a message as the owner received it, judged as a mailbox provider would."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import dkim
from aiosmtplib.email import flatten_message

from service.deliverability.dns import Dns
from service.deliverability.eml import check_received
from service.deliverability.report import Check
from tests.deliverability.test_dkim import confirmation_and_welcome
from tests.support.relay import Relay
from tests.test_cli import optin
from tests.verification.dnszone import ZoneKey


def said(checks: list[Check], status: str, text: str) -> bool:
    return any(c.status == status and text in c.text for c in checks)


def delivered(raw: bytes, return_path: str = "news@sender-ok.com", results: str = "") -> bytes:
    """What the receiving server stores: its Return-Path (and verdict) above the message as sent."""
    added = f"Return-Path: <{return_path}>\r\n".encode()
    if results:
        added += f"Authentication-Results: mx.example.org; {results}\r\n".encode()
    return added + raw


async def test_a_message_optin_sent_passes_and_the_cli_says_so(
    sqlite_url: str,
    nameserver: str,
    starttls_relay: Relay,
    ca_file: str,
    key_file: Path,
    zone_dns: Dns,
    tmp_path: Path,
) -> None:
    _, welcome = await confirmation_and_welcome(sqlite_url, nameserver, starttls_relay, ca_file, key_file)
    checks = check_received(
        delivered(welcome, results="dkim=pass header.d=sender-ok.com; spf=pass; dmarc=pass"), zone_dns
    )
    assert said(checks, "ok", "DKIM d=sender-ok.com s=s1: valid, and aligned with From (sender-ok.com)")
    assert said(
        checks, "ok", "h= covers list-unsubscribe, list-unsubscribe-post (one-click unsubscribe counts)"
    )
    assert said(checks, "ok", "Return-Path: sender-ok.com, aligned with From (sender-ok.com)")
    assert said(checks, "ok", "the receiving server said: dkim=pass, spf=pass, dmarc=pass")
    assert all(c.status == "ok" for c in checks), checks

    # The same through the command, as the owner runs it (the rest of the doctor runs too).
    eml = tmp_path / "received.eml"
    eml.write_bytes(delivered(welcome))
    config = tmp_path / "optin.toml"
    config.write_text(
        f'[server]\nsecret_key = "test-secret-key-0123456789abcdef"\ndatabase = "{sqlite_url}"\n'
        f'[dns]\nnameservers = ["{nameserver}"]\ntimeout = 1.0\n'
        f'[smtp.dkim]\nselector = "s1"\ndomain = "sender-ok.com"\nprivate_key_file = "{key_file}"\n'
    )
    code, out = await optin("--config", str(config), "doctor", "--eml", str(eml), env={})
    assert f"The received message {eml}" in out, out
    assert "✓ DKIM d=sender-ok.com s=s1: valid, and aligned with From (sender-ok.com)" in out
    assert code == 1  # development: no relay, an http public URL — the doctor says so and fails


async def test_what_breaks_a_received_message_is_told(
    sqlite_url: str,
    nameserver: str,
    starttls_relay: Relay,
    ca_file: str,
    key_file: Path,
    zone_dns: Dns,
    keys: dict[str, ZoneKey],
) -> None:
    _, welcome = await confirmation_and_welcome(sqlite_url, nameserver, starttls_relay, ca_file, key_file)

    tampered = delivered(welcome.replace(b"\r\nSubject: ", b"\r\nSubject: Re: ", 1))
    checks = check_received(tampered, zone_dns)
    assert said(checks, "fail", "DKIM d=sender-ok.com s=s1: invalid")
    assert said(checks, "fail", "no valid signature aligned with From")

    bounced_elsewhere = check_received(delivered(welcome, "bounces@relay-provider.net"), zone_dns)
    assert said(
        bounced_elsewhere, "warn", "Return-Path: relay-provider.net is not aligned with From (sender-ok.com)"
    )

    judged = check_received(delivered(welcome, results="dkim=fail; spf=softfail; dmarc=fail"), zone_dns)
    assert said(judged, "fail", "the receiving server said: dkim=fail, spf=softfail, dmarc=fail")

    # Signed by sender-ok.com's key, but without the one-click headers in h=.
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "News <news@sender-ok.com>", "r@example.org", "Hi"
    message["List-Unsubscribe"] = "<https://signup.sender-ok.com/unsubscribe/x>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content("Hello\n")
    raw = flatten_message(message, cte_type="7bit")
    signature = dkim.sign(
        raw,
        b"s1",
        b"sender-ok.com",
        keys["good"].key.signing_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[b"from", b"to", b"subject"],
    )
    checks = check_received(delivered(signature + raw), zone_dns)
    assert said(checks, "ok", "DKIM d=sender-ok.com s=s1: valid")
    assert said(checks, "fail", "h= does not cover list-unsubscribe, list-unsubscribe-post")

    unsigned = check_received(delivered(raw), zone_dns)
    assert said(unsigned, "fail", "the message carries no DKIM signature")

    headerless = check_received(b"Hello, this is only a body\r\n", zone_dns)
    assert said(headerless, "fail", "the message has no From address")
