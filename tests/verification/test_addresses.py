"""Which IP addresses count as public: every row of the IANA special-purpose registries, and the
IPv6 forms that carry an IPv4 address. They decide whether a domain's mail server is reachable
(and, with ``probe = true``, where optin would connect)."""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.verification.addresses import is_public
from tests.support.app_server import base_config, client, make_settings, serve

from .dnszone import LoopbackDns, ZoneResolver, build_zone

DATA = Path(__file__).resolve().parents[1] / "data" / "special_addresses"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Row:
    block: Network
    name: str
    reachable: str  # "True", "False" or "" (N/A, or a terminated row)


def registry_rows() -> list[Row]:
    rows = []
    for name in ("iana-ipv4-special-registry-1.csv", "iana-ipv6-special-registry-1.csv"):
        with (DATA / name).open(newline="", encoding="utf-8") as f:
            for record in csv.DictReader(f):
                reachable = record["Globally Reachable"].split(" ")[0]
                for block in record["Address Block"].split(","):
                    network = ipaddress.ip_network(block.split(" [")[0].strip())
                    rows.append(Row(network, record["Name"], "" if reachable == "N/A" else reachable))
    return rows


ROWS = registry_rows()
# Blocks the registry marks N/A or left blank (terminated), decided here in words:
UNDECIDED = {
    "2001::/32": False,  # Teredo: the client's address is obfuscated; no mail server lives behind one
    "192.88.99.0/24": False,  # 6to4 relay anycast, terminated in 2015
    "2001:10::/28": False,  # ORCHID, terminated in 2014
}
# Blocks that only spell an IPv4 address: judged by the IPv4 address they carry.
CARRIERS = {"::ffff:0:0/96", "64:ff9b::/96", "2002::/16"}


def samples(block: Network) -> Iterator[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    yield block.network_address
    yield block.network_address + block.num_addresses // 2
    yield block.broadcast_address


def most_specific(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Row:
    rows = [r for r in ROWS if r.block.version == address.version and address in r.block]
    return max(rows, key=lambda r: r.block.prefixlen)


def test_the_registry_files_are_whole() -> None:
    names = {str(r.block) for r in ROWS}
    assert {"198.18.0.0/15", "192.0.0.0/24", "192.0.0.171/32", "255.255.255.255/32"} <= names
    assert {"64:ff9b:1::/48", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7"} <= names
    assert len(ROWS) == 26 + 25


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.block} {r.name}")
def test_every_special_purpose_block(row: Row) -> None:
    for address in samples(row.block):
        owner = most_specific(address)
        key = str(owner.block)
        if key in CARRIERS:
            assert isinstance(address, ipaddress.IPv6Address)
            inner = address.sixtofour or ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            expected = is_public(str(inner))
        elif key in UNDECIDED:
            expected = UNDECIDED[key]
        else:
            expected = owner.reachable == "True"
        assert is_public(str(address)) is expected, f"{address} in {owner.block} ({owner.name})"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        # IPv4 reserved and special ranges the old list missed
        ("198.18.0.1", False),
        ("198.19.255.254", False),
        ("192.0.0.1", False),
        ("192.0.0.170", False),
        ("192.88.99.1", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("255.255.255.255", False),
        ("192.0.0.9", True),  # PCP anycast: globally reachable
        ("142.250.102.27", True),
        # IPv4-mapped, in every spelling
        ("::ffff:127.0.0.1", False),
        ("::ffff:7f00:1", False),
        ("0:0:0:0:0:ffff:192.168.1.1", False),
        ("::FFFF:10.0.0.1", False),
        ("::ffff:142.250.102.27", True),
        # IPv4-compatible (deprecated) and IPv4-translated
        ("::127.0.0.1", False),
        ("::10.0.0.1", False),
        ("::a9fe:a9fe", False),
        ("::142.250.102.27", True),
        ("::ffff:0:127.0.0.1", False),
        ("::ffff:0:142.250.102.27", True),
        # NAT64: the well-known prefix carries its IPv4; the local-use one is never public
        ("64:ff9b::127.0.0.1", False),
        ("64:ff9b::a00:1", False),
        ("64:ff9b::198.18.0.1", False),
        ("64:ff9b::142.250.102.27", True),
        ("64:ff9b:1::142.250.102.27", False),
        # 6to4 carries its IPv4 in bits 16-48
        ("2002:7f00:1::1", False),
        ("2002:c0a8:101::1", False),
        ("2002:a9fe:a9fe::1", False),
        ("2002:8efa:661b::1", True),
        # Teredo, site-local, multicast, documentation, unspecified
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
        ("fec0::1", False),
        ("feff::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("3fff::25", False),
        ("2001:db8::25", False),
        ("::", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("2a00:1450:4010:c1c::1a", True),
        ("not an address", False),
        ("", False),
    ],
)
def test_addresses_that_carry_or_hide_a_private_one(address: str, public: bool) -> None:
    assert is_public(address) is public


ATTACK_ZONE = {
    "nat64-loopback.com": "AAAA 64:ff9b::7f00:1",
    "nat64-local.com": "AAAA 64:ff9b:1::8efa:661b",
    "compat-loopback.com": "AAAA ::7f00:1",
    "sixtofour-private.com": "AAAA 2002:c0a8:101::1",
    "site-local.com": "AAAA fec0::25",
    "teredo.com": "AAAA 2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "benchmarking.com": "A 198.18.0.25",
    "ietf-assignments.com": "A 192.0.0.25",
    "documentation.com": "A 192.0.2.25",
}


async def test_mail_servers_on_hidden_private_addresses_are_refused_over_http(db_url: str) -> None:
    """A domain whose MX points at a private address in disguise cannot receive mail from the
    Internet; with ``probe = true`` optin would otherwise connect there."""
    zone = build_zone()  # the big providers too: the service checks its DNS works with them
    zone.update({"public.com": ["MX 10 mx.public.com."], "mx.public.com": ["A 142.250.102.27"]})
    for domain, record in ATTACK_ZONE.items():
        zone[domain] = [f"MX 10 mx.{domain}."]
        zone[f"mx.{domain}"] = [record]
    dns = LoopbackDns(ZoneResolver(zone)).start()
    try:
        async with serve(lambda url: make_settings(base_config(db_url, url, dns.nameserver))) as (url, _):
            async with client(url) as http:
                ok = await http.post("/v1/verify", json={"email": "ann@public.com"})
                assert ok.status_code == 200 and ok.json()["decision"] == "accept", ok.text
                for domain in ATTACK_ZONE:
                    answer = await http.post("/v1/verify", json={"email": f"ann@{domain}"})
                    verdict = answer.json()
                    assert (verdict["status"], verdict["decision"]) == ("undeliverable", "reject"), domain
                    assert verdict["reasons"][0] == "mx_host_private", domain
                    signup = await http.post(
                        "/v1/forms/newsletter/subscribe", json={"email": f"ann@{domain}", "consent": True}
                    )
                    assert signup.status_code == 422 and signup.json()["field"] == "email", domain
    finally:
        dns.stop()
