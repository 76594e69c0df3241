"""DNS checks against the loopback zone: what a person sees for each kind of mail domain."""

from __future__ import annotations

import asyncio

import pytest

from service.errors import ConfigError
from service.verification import Verifier, VerifierConfig
from service.verification.dnscheck import is_routable, parse_nameserver

from .dnszone import LoopbackDns


@pytest.mark.parametrize(
    ("address", "status", "reason"),
    [
        ("ann@mx-ok.com", "deliverable", None),
        ("ann@gmail.com", "deliverable", None),
        ("ann@mx-v6only.com", "deliverable", None),
        ("ann@mx-backup.com", "deliverable", None),
        ("ann@a-only-public.com", "deliverable", "a_fallback"),
        ("ann@münchen.de", "deliverable", None),
        ("ann@null-mx.com", "undeliverable", "null_mx"),
        ("ann@a-only-private.com", "undeliverable", "a_fallback_private"),
        ("ann@no-mail.com", "undeliverable", "no_mail_server"),
        ("ann@mx-unresolvable.com", "undeliverable", "mx_host_unresolvable"),
        ("ann@mx-loopback.com", "undeliverable", "mx_host_private"),
        ("ann@mx-private.com", "undeliverable", "mx_host_private"),
        ("ann@does-not-exist-anywhere.com", "undeliverable", "domain_not_found"),
        ("ann@servfail.com", "unknown", "dns_servfail"),
        ("ann@mx-host-servfail.com", "unknown", "dns_servfail"),
    ],
)
async def test_mail_domain_status(verifier: Verifier, address: str, status: str, reason: str | None) -> None:
    verdict = await verifier.verify(address)
    assert verdict.status == status, verdict
    if reason:
        assert verdict.reasons[0] == reason
    expected_decision = {"deliverable": "accept", "undeliverable": "reject", "unknown": "accept"}[status]
    assert verdict.decision == expected_decision


async def test_slow_dns_gives_unknown_and_accepts_within_the_deadline(verifier: Verifier) -> None:
    for address in ("ann@slow.com", "ann@mx-host-slow.com"):
        verdict = await verifier.verify(address)
        assert verdict.status == "unknown"
        assert verdict.decision == "accept"
        assert verdict.reasons[0] in {"dns_deadline", "dns_timeout"}


async def test_unknown_is_rejected_only_when_the_policy_says_so(verifier: Verifier) -> None:
    from service.verification import Policy

    verdict = await verifier.verify("ann@servfail.com", Policy(reject_unknown=True))
    assert verdict.decision == "reject"


async def test_silent_nameserver_gives_unknown_not_reject() -> None:
    # a UDP port on loopback with nobody listening: every query fails
    verifier = Verifier(VerifierConfig(nameservers=("127.0.0.1:9",), dns_timeout=0.3, deadline=0.5))
    verdict = await verifier.verify("ann@gmail.com")
    assert verdict.status == "unknown"
    assert verdict.decision == "accept"


async def test_answers_are_cached_positive_and_negative(verifier: Verifier, dns_server: LoopbackDns) -> None:
    zone = dns_server.resolver
    for _ in range(3):
        assert (await verifier.verify("a@cache-positive.com")).status == "deliverable"
        assert (await verifier.verify("a@never-registered-1.com")).status == "undeliverable"
    assert zone.queries("cache-positive.com", "MX") == 1
    assert zone.queries("never-registered-1.com", "MX") == 1


async def test_concurrent_lookups_of_one_domain_share_one_query(
    verifier: Verifier, dns_server: LoopbackDns
) -> None:
    verdicts = await asyncio.gather(*(verifier.verify(f"user{i}@dedupe.com") for i in range(30)))
    assert {v.status for v in verdicts} == {"deliverable"}
    assert dns_server.resolver.queries("dedupe.com", "MX") == 1
    assert dns_server.resolver.queries("mx.dedupe.com", "A") == 1


async def test_dns_can_be_turned_off_per_form(verifier: Verifier) -> None:
    from service.verification import Policy

    verdict = await verifier.verify("ann@null-mx.com", Policy(check_dns=False))
    assert verdict.status == "unknown"
    assert verdict.decision == "accept"


def test_nameserver_specs() -> None:
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("9.9.9.9") == ("9.9.9.9", 53)
    assert parse_nameserver("[::1]:5300") == ("::1", 5300)
    assert parse_nameserver("::1") == ("::1", 53)
    with pytest.raises(ValueError):
        parse_nameserver("dns.example.com:53")
    with pytest.raises(ConfigError, match="not an IP address"):
        VerifierConfig(nameservers=("localhost:53",))


@pytest.mark.parametrize(
    ("ip", "routable"),
    [
        ("93.184.217.5", True),
        ("142.250.102.27", True),
        ("2606:2800:21f::25", True),
        ("203.0.113.5", False),  # documentation ranges are not on the Internet
        ("2001:db8::1", False),
        ("198.18.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.20.0.1", False),
        ("192.168.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("::", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("not an ip", False),
    ],
)
def test_routable_addresses(ip: str, routable: bool) -> None:
    assert is_routable(ip) is routable
