"""`optin doctor` against the loopback zone: a domain set up well, and one broken in each way.

Everything it talks to is on loopback: the dnslib zone, an aiosmtpd relay (STARTTLS + AUTH), and
optin itself over HTTPS at signup.sender-ok.com (which the zone resolves to 127.0.0.1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trustme

from service.deliverability.doctor import DoctorOptions, diagnose
from service.deliverability.report import Section, render
from service.settings import Settings
from tests.deliverability.conftest import serve_https
from tests.support.app_server import SECRET, base_config, make_settings, serve
from tests.support.relay import PASSWORD, USER, Relay
from tests.test_cli import optin
from tests.verification.dnszone import ZoneKey


def doctor_config(
    db_url: str,
    public_url: str,
    nameserver: str,
    relay_port: int,
    ca_file: str,
    key_path: Path,
    domain: str = "sender-ok.com",
    dkim_domain: str | None = None,
    secret: str = SECRET,
) -> dict[str, Any]:
    config = base_config(
        db_url,
        public_url,
        nameserver,
        smtp={
            "host": "127.0.0.1",
            "port": relay_port,
            "security": "starttls",
            "username": USER,
            "password": PASSWORD,
            "sender": f"News <news@{domain}>",
            "tls_ca_file": ca_file,
            "dkim": {"selector": "s1", "private_key_file": str(key_path), "domain": dkim_domain or domain},
        },
    )
    config["server"]["secret_key"] = secret
    return config


def lines(sections: list[Section]) -> list[str]:
    return render(sections).splitlines()


def has(sections: list[Section], symbol: str, text: str) -> bool:
    return any(line.strip().startswith(symbol) and text in line for line in lines(sections))


def failed(sections: list[Section]) -> list[str]:
    return [line.strip() for line in lines(sections) if line.strip().startswith("✗")]


@asynccontextmanager
async def signup_site(db_url: str, nameserver: str, ca: trustme.CA, tmp_path: Path) -> AsyncIterator[str]:
    """optin itself at https://signup.sender-ok.com:PORT (its sender does not matter here)."""

    def configure(url: str) -> Settings:
        return make_settings(base_config(db_url, url, nameserver))

    async with serve_https(configure, ca, tmp_path) as (url, _):
        yield url


async def test_a_domain_set_up_well_gets_only_ticks(
    sqlite_url: str,
    nameserver: str,
    starttls_relay: Relay,
    ca: trustme.CA,
    ca_file: str,
    key_file: Path,
    tmp_path: Path,
) -> None:
    async with signup_site(sqlite_url, nameserver, ca, tmp_path) as url:
        config = doctor_config(sqlite_url, url, nameserver, starttls_relay.port, ca_file, key_file)
        toml = tmp_path / "doctor.toml"
        toml.write_text(_toml(config))
        code, out = await optin(
            "--config", str(toml), "doctor", "--ca-file", ca_file, "--relay-ip", "127.0.0.1", env={}
        )
    assert code == 0, out
    assert "✗" not in out and "⚠" not in out, out
    for expected in (
        "✓ MX: sender-ok.com receives mail (mx.sender-ok.com)",
        '✓ SPF: one record at sender-ok.com: "v=spf1 ip4:127.0.0.1 ip4:198.51.100.50 -all"',
        "✓ SPF: 0 DNS lookup(s) to evaluate it (10 at most)",
        "✓ SPF: covers the relay's address 127.0.0.1",
        "✓ DMARC: policy p=reject",
        "✓ DMARC: aggregate reports go to mailto:dmarc@sender-ok.com",
        "✓ DMARC: alignment DKIM relaxed, SPF relaxed",
        "✓ DKIM: a rsa key is published at s1._domainkey.sender-ok.com",
        "✓ DKIM: the key has 2048 bits",
        "✓ DKIM: it matches the private key optin signs with",
        "✓ relay: 127.0.0.1 port",
        "TLS established, logged in as relay-user",
        "✓ reverse DNS: 127.0.0.1 is relay.sender-ok.com, which resolves back to it",
        f"✓ public URL: {url} is HTTPS",
        "✓ public URL: signup.sender-ok.com is on the sender's domain sender-ok.com",
        f"✓ unsubscribe: POST {url}/unsubscribe/… (one-click, RFC 8058) reaches optin",
    ):
        assert expected in out, f"{expected!r} missing from:\n{out}"
    assert out.rstrip().endswith("0 worth fixing, 0 to fix: nothing blocks delivery.")


def _toml(config: dict[str, Any], prefix: str = "") -> str:
    from service.settings_show import toml_value

    plain = {k: v for k, v in config.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in config.items() if isinstance(v, dict)}
    text = f"[{prefix}]\n" if prefix and plain else ""
    text += "".join(f"{k} = {toml_value(v)}\n" for k, v in plain.items())
    for name, table in tables.items():
        text += _toml(table, f"{prefix}.{name}" if prefix else name)
    return text


# domain -> (what the doctor must say, with ✗ or ⚠), each domain broken in one way only.
BROKEN_DOMAINS: dict[str, tuple[str, str, str]] = {
    "sender-null-mx.com": ("✗", "publishes a null MX (it accepts no mail)", "publish the MX of a mailbox"),
    "sender-no-mx.com": ("⚠", "has no MX record", "publish an MX record for sender-no-mx.com"),
    "sender-no-spf.com": (
        "✗",
        "SPF: sender-no-spf.com publishes no SPF record",
        'publish a TXT record at sender-no-spf.com: "v=spf1',
    ),
    "sender-two-spf.com": ("✗", "publishes 2 SPF records", "merge them into one TXT record"),
    "sender-plus-all.com": (
        "✗",
        '"+all" lets every server on the Internet send as',
        'end the record with "-all"',
    ),
    "sender-spf-lookups.com": (
        "✗",
        "the record cannot be evaluated: Too many DNS lookups",
        "at most 10 DNS lookups",
    ),
    "sender-spf-miss.com": (
        "✗",
        "mail from the relay's address 127.0.0.1 gets fail",
        "add ip4:127.0.0.1 to the record",
    ),
    "sender-no-dmarc.com": (
        "✗",
        "DMARC: no record at _dmarc.sender-no-dmarc.com",
        "v=DMARC1; p=none; rua=mailto:",
    ),
    "sender-dmarc-none.com": ("⚠", "policy p=none only monitors", "move to p=quarantine"),
    "sender-two-dmarc.com": ("✗", "has 2 DMARC records", "keep one TXT record"),
    "sender-no-dkim.com": (
        "✗",
        "DKIM: no key is published at s1._domainkey.sender-no-dkim.com",
        '"v=DKIM1; k=rsa; p=',
    ),
    "sender-dkim-other.com": (
        "✗",
        "the published key is not the public half of our private key",
        "publish a TXT record",
    ),
    "sender-dkim-revoked.com": ("✗", "is revoked (empty p=)", "publish a TXT record"),
}


async def test_each_broken_domain_is_told_with_its_fix(
    sqlite_url: str,
    nameserver: str,
    starttls_relay: Relay,
    ca: trustme.CA,
    ca_file: str,
    key_file: Path,
    tmp_path: Path,
) -> None:
    async with signup_site(sqlite_url, nameserver, ca, tmp_path) as url:
        for domain, (symbol, text, fix) in BROKEN_DOMAINS.items():
            config = doctor_config(
                sqlite_url, url, nameserver, starttls_relay.port, ca_file, key_file, domain
            )
            sections = await diagnose(make_settings(config), DoctorOptions(("127.0.0.1",), ca_file))
            report = render(sections)
            assert has(sections, symbol, text), f"{domain}: {text!r} not said with {symbol}:\n{report}"
            assert fix in report, f"{domain}: the fix {fix!r} is missing:\n{report}"
            others = [line for line in failed(sections) if text not in line]
            # One thing is broken; the only other ✗ a broken record brings is its own consequence.
            assert len(others) <= (1 if domain == "sender-spf-miss.com" else 0), f"{domain}:\n{report}"


async def test_dkim_keys_too_short_or_not_aligned(
    sqlite_url: str,
    nameserver: str,
    starttls_relay: Relay,
    ca: trustme.CA,
    ca_file: str,
    tmp_path: Path,
    keys: dict[str, ZoneKey],
) -> None:
    short = tmp_path / "short.pem"
    short.write_text(keys["short"].pem)
    good = tmp_path / "good.pem"
    good.write_text(keys["good"].pem)
    async with signup_site(sqlite_url, nameserver, ca, tmp_path) as url:
        config = doctor_config(
            sqlite_url, url, nameserver, starttls_relay.port, ca_file, short, "sender-dkim-short.com"
        )
        sections = await diagnose(make_settings(config), DoctorOptions(("127.0.0.1",), ca_file))
        assert has(sections, "⚠", "the published key has 1024 bits; 2048 is advised"), render(sections)
        assert has(sections, "✓", "it matches the private key optin signs with")
        assert not failed(sections), render(sections)

        # adkim=s: a signature by mail.sender-adkim-strict.com does not count for sender-adkim-strict.com.
        config = doctor_config(
            sqlite_url,
            url,
            nameserver,
            starttls_relay.port,
            ca_file,
            good,
            "sender-adkim-strict.com",
            dkim_domain="mail.sender-adkim-strict.com",
        )
        sections = await diagnose(make_settings(config), DoctorOptions(("127.0.0.1",), ca_file))
        assert has(sections, "✗", "our DKIM signature (d=mail.sender-adkim-strict.com) is not aligned"), (
            render(sections)
        )
        assert "sign with smtp.dkim.domain = 'sender-adkim-strict.com' or set adkim=r" in render(sections)


async def test_relay_problems_are_told(
    sqlite_url: str,
    nameserver: str,
    starttls_relay: Relay,
    ca: trustme.CA,
    ca_file: str,
    key_file: Path,
    tmp_path: Path,
) -> None:
    async with signup_site(sqlite_url, nameserver, ca, tmp_path) as url:
        config = doctor_config(sqlite_url, url, nameserver, starttls_relay.port, ca_file, key_file)
        settings = make_settings(config)
        # 127.0.0.3 has no PTR; 127.0.0.2's PTR names a host that resolves elsewhere.
        sections = await diagnose(settings, DoctorOptions(("127.0.0.3", "127.0.0.2"), ca_file))
        assert has(sections, "✗", "reverse DNS: 127.0.0.3 has no PTR record"), render(sections)
        assert has(
            sections,
            "✗",
            "reverse DNS: 127.0.0.2 says it is relay.wrong-ptr.com, but that name does not resolve back",
        )
        assert has(sections, "✗", "SPF: mail from the relay's address 127.0.0.2 gets fail")
        # Without --relay-ip, the relay host's own loopback address is checked, and the doctor
        # says that the Internet sees another one.
        sections = await diagnose(settings, DoctorOptions((), ca_file))
        assert has(sections, "⚠", "relay: 127.0.0.1 is at 127.0.0.1, not an Internet address"), render(
            sections
        )
        assert "give that address with --relay-ip" in render(sections)

        closed = doctor_config(sqlite_url, url, nameserver, _closed_port(), ca_file, key_file)
        sections = await diagnose(make_settings(closed), DoctorOptions(("127.0.0.1",), ca_file))
        assert has(sections, "✗", "relay: 127.0.0.1 does not work as configured"), render(sections)
        assert "connection refused" in render(sections) and "`optin smtp-test`" in render(sections)


def _closed_port() -> int:
    from tests.support.app_server import free_port

    return free_port()


async def test_public_url_problems_are_told(
    sqlite_url: str,
    nameserver: str,
    starttls_relay: Relay,
    ca: trustme.CA,
    ca_file: str,
    key_file: Path,
    tmp_path: Path,
) -> None:
    port = starttls_relay.port

    def site(url: str) -> Settings:
        return make_settings(base_config(sqlite_url, url, nameserver))

    # Plain HTTP on an address: not HTTPS, not the sender's domain (one-click itself works).
    async with serve(site) as (url, _):
        sections = await diagnose(
            make_settings(doctor_config(sqlite_url, url, nameserver, port, ca_file, key_file)),
            DoctorOptions(("127.0.0.1",)),
        )
    assert has(sections, "✗", f"public URL: {url} is plain HTTP"), render(sections)
    assert has(sections, "⚠", "public URL: the links go to 127.0.0.1, the mail comes from sender-ok.com")
    assert has(sections, "✓", "reaches optin")

    # Another domain than the sender's; and a secret key that is not the running service's.
    async with serve_https(site, ca, tmp_path, host="signup.elsewhere-links.com") as (url, _):
        sections = await diagnose(
            make_settings(doctor_config(sqlite_url, url, nameserver, port, ca_file, key_file)),
            DoctorOptions(("127.0.0.1",), ca_file),
        )
        assert has(
            sections, "⚠", "the links go to signup.elsewhere-links.com, the mail comes from sender-ok.com"
        )
        assert "serve optin on a subdomain of sender-ok.com (e.g. signup.sender-ok.com)" in render(sections)
        other_secret = doctor_config(
            sqlite_url, url, nameserver, port, ca_file, key_file, secret="another-secret-0123456789"
        )
        sections = await diagnose(make_settings(other_secret), DoctorOptions(("127.0.0.1",), ca_file))
        assert has(sections, "✗", "answered 404: the link was not accepted there"), render(sections)
        # Without the private CA, the certificate is not trusted: said, not a traceback.
        sections = await diagnose(
            make_settings(doctor_config(sqlite_url, url, nameserver, port, ca_file, key_file)),
            DoctorOptions(("127.0.0.1",)),
        )
        assert has(sections, "✗", "unsubscribe: POST"), render(sections)
        assert "CERTIFICATE_VERIFY_FAILED" in render(sections)

    # A proxy that lets only GET through.
    async with get_only_server() as url:
        sections = await diagnose(
            make_settings(doctor_config(sqlite_url, url, nameserver, port, ca_file, key_file)),
            DoctorOptions(("127.0.0.1",)),
        )
    assert has(sections, "✗", "answered 405 Method Not Allowed"), render(sections)
    assert "let POST requests to /unsubscribe/ through to optin" in render(sections)


@asynccontextmanager
async def get_only_server() -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()
