"""DKIM: what the relay receives verifies with dkimpy against the key our DNS zone publishes."""

from __future__ import annotations

import re
import secrets
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from dkim.util import parse_tag_value

from service.deliverability.dns import Dns
from service.errors import ConfigError
from service.mail.dkim import load_key
from service.mail.smtp import SmtpMailer
from service.settings import Settings, load_settings
from tests.deliverability.conftest import dkim_txt
from tests.support.app_server import (
    SECRET,
    base_config,
    client,
    confirm,
    make_settings,
    serve,
    sign_up,
    wait_for,
)
from tests.support.relay import PASSWORD, USER, Relay, run_relay
from tests.test_cli import config_file, optin
from tests.verification.dnszone import ZoneKey

SENDER = "Sender OK News <news@sender-ok.com>"


def signing_service(
    db_url: str, nameserver: str, relay: Relay, ca_file: str, key_path: Path, selector: str = "s1"
) -> Callable[[str], Settings]:
    def configure(url: str) -> Settings:
        config = base_config(
            db_url,
            url,
            nameserver,
            smtp={
                "host": "127.0.0.1",
                "port": relay.port,
                "security": "starttls",
                "username": USER,
                "password": "env:SMTP_PASSWORD",
                "sender": SENDER,
                "tls_ca_file": ca_file,
                "dkim": {"selector": selector, "private_key_file": str(key_path)},
            },
        )
        config["forms"]["newsletter"]["welcome_email"] = True
        return make_settings(config, {"SMTP_PASSWORD": PASSWORD})

    return configure


async def confirmation_and_welcome(
    db_url: str, nameserver: str, relay: Relay, ca_file: str, key_file: Path
) -> tuple[bytes, bytes]:
    """A reader signs up and confirms; the two emails as the relay received them, byte for byte."""
    configure = signing_service(db_url, nameserver, relay, ca_file, key_file)
    async with serve(configure) as (url, _), client(url) as http:
        link = await sign_up(http, relay, "reader@example.org")
        assert (await confirm(http, link)).status_code == 200
        await wait_for(lambda: len(relay.raws) == 2, what="the welcome email")
    confirmation, welcome = relay.raws
    return confirmation, welcome


def signature_tags(raw: bytes) -> dict[str, str]:
    header = re.search(rb"^DKIM-Signature:(.*?)\r\n(?=\S)", raw, re.DOTALL | re.MULTILINE)
    assert header, raw[:500]
    return {k.decode(): v.decode() for k, v in parse_tag_value(header.group(1)).items()}


def signed_headers(raw: bytes) -> list[str]:
    return [h.strip() for h in signature_tags(raw)["h"].split(":")]


async def test_every_email_is_signed_and_verifies_against_the_published_key(
    sqlite_url: str, nameserver: str, starttls_relay: Relay, ca_file: str, key_file: Path, zone_dns: Dns
) -> None:
    confirmation, welcome = await confirmation_and_welcome(
        sqlite_url, nameserver, starttls_relay, ca_file, key_file
    )
    lookup = dkim_txt(zone_dns)
    for raw in (confirmation, welcome):
        assert raw.startswith(b"DKIM-Signature: ")
        tags = signature_tags(raw)
        assert (tags["d"], tags["s"], tags["c"], tags["a"]) == (
            "sender-ok.com",
            "s1",
            "relaxed/relaxed",
            "rsa-sha256",
        )
        assert dkim.verify(raw, dnsfunc=lookup), "the signature does not verify against the zone's key"
    # From (twice: nobody can add a second From), To, Subject, Date, Message-ID, List-Id.
    basics = ["from", "to", "subject", "date", "message-id", "list-id"]
    assert set(basics) <= set(signed_headers(confirmation))
    assert signed_headers(confirmation).count("from") == 2
    # The one-click link is one plain line a provider can read (the email library used to fold a
    # long URL into RFC 2047 encoded words, which no provider decodes there).
    assert re.search(rb"^List-Unsubscribe: <http://127\.0\.0\.1:\d+/unsubscribe/[^>\s]+>\r\n", welcome, re.M)
    # RFC 8058: one-click unsubscribe counts only when its two headers are signed.
    assert {*basics, "list-unsubscribe", "list-unsubscribe-post"} <= set(signed_headers(welcome))


async def test_a_tampered_header_or_body_fails_verification(
    sqlite_url: str, nameserver: str, starttls_relay: Relay, ca_file: str, key_file: Path, zone_dns: Dns
) -> None:
    confirmation, welcome = await confirmation_and_welcome(
        sqlite_url, nameserver, starttls_relay, ca_file, key_file
    )
    lookup = dkim_txt(zone_dns)
    assert dkim.verify(welcome, dnsfunc=lookup)
    unsubscribe = re.search(rb"^List-Unsubscribe:\s+<([^>]+)>", welcome, re.MULTILINE)
    assert unsubscribe
    attacks = {
        "subject": confirmation.replace(b"\r\nSubject: ", b"\r\nSubject: Re: ", 1),
        "recipient": confirmation.replace(b"\r\nTo: reader@", b"\r\nTo: someone.else@", 1),
        "unsubscribe link": welcome.replace(unsubscribe.group(1), b"https://evil.example/unsubscribe", 1),
        "one-click header removed": welcome.replace(
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b""
        ),
        "second From added": confirmation.replace(b"\r\nFrom: ", b"\r\nFrom: ceo@sender-ok.com\r\nFrom: ", 1),
        "body": confirmation.replace(b"works for 7 days", b"works for 9 days", 1),
    }
    for what, changed in attacks.items():
        assert changed != (welcome if "unsubscribe" in what or "one-click" in what else confirmation), what
        assert not dkim.verify(changed, dnsfunc=lookup), f"{what}: a tampered message still verifies"


async def test_an_ed25519_key_signs_too(
    server_context: ssl.SSLContext, ca_file: str, tmp_path: Path, keys: dict[str, ZoneKey], zone_dns: Dns
) -> None:
    path = tmp_path / "ed.pem"
    path.write_text(keys["ed25519"].pem)
    async with run_relay(Relay(), mode="starttls", server_context=server_context) as relay:
        smtp = {
            "host": "127.0.0.1",
            "port": relay.port,
            "security": "starttls",
            "username": USER,
            "password": PASSWORD,
            "sender": SENDER,
            "tls_ca_file": ca_file,
            "dkim": {"selector": "ed1", "private_key_file": str(path)},
        }
        settings = make_settings(
            {"smtp": smtp, "server": {"secret_key": SECRET, "database": f"sqlite:///{tmp_path}/a.db"}}
        )
        mailer = SmtpMailer(settings.smtp)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = SENDER, "reader@example.org", "Grüße"
        message.set_content("Hallo – ein Test.\n")
        await mailer.send(message, "reader@example.org")
        await mailer.aclose()
    (raw,) = relay.raws
    assert signature_tags(raw)["a"] == "ed25519-sha256"
    assert dkim.verify(raw, dnsfunc=dkim_txt(zone_dns))
    assert not dkim.verify(raw.replace(b"Subject: ", b"Subject: Re: "), dnsfunc=dkim_txt(zone_dns))


def _dkim_config(tmp_path: Path, dkim_lines: str) -> str:
    return config_file(
        tmp_path,
        f'[server]\nsecret_key = "{SECRET}"\ndatabase = "sqlite:///{tmp_path}/a.db"\n'
        f'[smtp]\nhost = "relay.example.com"\nsender = "{SENDER}"\n[smtp.dkim]\n{dkim_lines}\n',
    )


def _problems(config: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env or {})
    return caught.value.problems


def _ec_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ec_pem.decode()


def _short_rsa() -> str:
    """A 768-bit RSA key: cryptography will not make one, so it is put together from two primes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def prime(bits: int) -> int:
        while True:
            n = secrets.randbits(bits) | (3 << (bits - 2)) | 1  # top two bits: the product has 2 × bits
            if (n - 1) % 65537 and all(
                pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31)
            ):
                return n

    p, q = prime(384), prime(384)
    d = pow(65537, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(65537, p * q)
    key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), public).private_key()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_settings_refuse_a_key_that_cannot_sign(tmp_path: Path, keys: dict[str, ZoneKey]) -> None:
    der = tmp_path / "key.der"
    der.write_bytes(b"\x30\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00\xff\xfe")
    cases: dict[str, tuple[str, dict[str, str], str]] = {
        "missing file": ('selector = "s1"\nprivate_key_file = "/nonexistent/dkim.pem"', {}, "does not exist"),
        "a directory": (f'selector = "s1"\nprivate_key_file = "{tmp_path}"', {}, "is a directory"),
        "binary file": (f'selector = "s1"\nprivate_key_file = "{der}"', {}, "is not a PEM text file"),
        "not RSA or Ed25519": ('selector = "s1"\nprivate_key = "env:K"', {"K": _ec_key()}, "elliptic-curve"),
        "too short": ('selector = "s1"\nprivate_key = "env:K"', {"K": _short_rsa()}, "768-bit RSA key"),
        "a public key": (
            'selector = "s1"\nprivate_key = "env:K"',
            {"K": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"},
            "is a public key",
        ),
        "damaged": (
            'selector = "s1"\nprivate_key = "env:K"',
            {"K": keys["good"].pem.replace("M", "Q", 3)[:400] + "\n-----END PRIVATE KEY-----\n"},
            "cannot be read as a private key",
        ),
        "no selector": ('private_key = "env:K"', {"K": keys["good"].pem}, "smtp.dkim.selector is required"),
        "both": (
            f'selector = "s1"\nprivate_key = "env:K"\nprivate_key_file = "{der}"',
            {"K": "x"},
            "not both",
        ),
        "misspelt": ('selector = "s1"\nprivatekey = "x"', {}, "did you mean private_key?"),
    }
    for case, (lines, env, expected) in cases.items():
        problems = _problems(_dkim_config(tmp_path, lines), env)
        assert any(expected in p for p in problems), f"{case}: {problems}"
        assert not any("BEGIN" in p or "MII" in p for p in problems), f"{case}: the key is in the message"


async def test_check_config_says_what_is_wrong_with_the_key_and_what_signs(
    tmp_path: Path, key_file: Path
) -> None:
    bad = _dkim_config(tmp_path, f'selector = "s1"\nprivate_key_file = "{tmp_path}/nope.pem"')
    code, out = await optin("--config", bad, "check-config", env={})
    assert code == 2, out
    assert f"smtp.dkim.private_key_file '{tmp_path}/nope.pem' does not exist" in out

    good = _dkim_config(tmp_path, f'selector = "s1"\nprivate_key_file = "{key_file}"')
    code, out = await optin("--config", good, "check-config", env={})
    assert code == 0, out
    assert "DKIM: signing every message as d=sender-ok.com, s=s1 (2048-bit RSA key)" in out
    code, out = await optin("--config", good, "check-config", "--show", env={})
    assert 'private_key = "********"' in out and "BEGIN" not in out


async def test_dkim_keygen_prints_a_key_and_the_record_that_matches_it(tmp_path: Path) -> None:
    code, out = await optin("dkim-keygen", "--selector", "s9", "--domain", "Sender-OK.com", env={})
    assert code == 0, out
    pem = re.search(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----\n", out, re.DOTALL)
    value = re.search(r"value: (v=DKIM1; k=rsa; p=\S+)", out)
    assert pem and value, out
    key = load_key(pem.group(0))
    assert key.bits == 2048 and key.dns_value() == value.group(1)
    assert "name:  s9._domainkey.sender-ok.com" in out
    # The zone-file form splits the value into strings a DNS server takes (255 characters at most).
    zone_line = re.search(r"(s9\._domainkey\.sender-ok\.com\. 3600 IN TXT \( .* \))", out)
    assert zone_line, out
    strings = re.findall(r'"([^"]*)"', zone_line.group(1))
    assert "".join(strings) == value.group(1) and max(map(len, strings)) <= 255
    assert 'selector = "s9"' in out and 'domain = "sender-ok.com"' in out

    path = tmp_path / "s10.pem"
    code, out = await optin(
        "dkim-keygen",
        "--selector",
        "s10",
        "--domain",
        "sender-ok.com",
        "--out",
        str(path),
        "--type",
        "ed25519",
        env={},
    )
    assert code == 0, out
    assert "BEGIN" not in out and path.stat().st_mode & 0o777 == 0o600
    assert load_key(path.read_text()).algorithm == "ed25519"
    assert f'private_key_file = "{path}"' in out
    code, out = await optin(
        "dkim-keygen", "--selector", "s10", "--domain", "sender-ok.com", "--out", str(path), env={}
    )
    assert code == 1 and "does not overwrite" in out

    code, out = await optin("dkim-keygen", "--selector", "s1", "--bits", "512", "--domain", "a.com", env={})
    assert code == 2 and "from 1024 to 4096 bits" in out
