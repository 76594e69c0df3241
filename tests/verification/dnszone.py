"""A real DNS server (dnslib, UDP and TCP) on 127.0.0.1 serving the verification test zone.

Addresses in answers are public-looking (mail servers must have global addresses: documentation
ranges such as TEST-NET are not) or private; no test ever sends traffic to them, only DNS queries
to this loopback server.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from service.mail.dkim import DkimKey, generate

TTL = 300
SOA = "ns.zone.invalid. hostmaster.zone.invalid. 1 3600 600 86400 60"


def _mx(domain: str, ip: str, *, pref: int = 10) -> dict[str, list[str]]:
    host = f"mx.{domain}"
    return {domain: [f"MX {pref} {host}."], host: [f"A {ip}"]}


@dataclass(frozen=True)
class ZoneKey:
    pem: str
    key: DkimKey


@functools.cache
def dkim_test_keys() -> dict[str, ZoneKey]:
    """DKIM keys made once per test process (no private key is kept in the repository):
    ``good`` (2048-bit RSA) signs for the sender-* domains, ``other`` is a key nobody signs with,
    ``short`` a 1024-bit one, ``ed25519`` an Ed25519 one."""
    made = {
        "good": generate("rsa", 2048),
        "other": generate("rsa", 2048),
        "short": generate("rsa", 1024),
        "ed25519": generate("ed25519"),
    }
    return {name: ZoneKey(pem, key) for name, (pem, key) in made.items()}


def _txt(value: str) -> str:
    """A TXT record, split into DNS strings of at most 255 characters (as a DNS host stores it)."""
    return "TXT " + " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


RELAY_NAME = "relay.sender-ok.com"  # 127.0.0.1's reverse DNS, which resolves back to it
SIGNUP_HOST = "signup.sender-ok.com"  # the public URL's host in the doctor's tests: 127.0.0.1


def _sender_domain(domain: str, **changes: list[str] | None) -> dict[str, list[str]]:
    """A sending domain set up well (MX, SPF covering 127.0.0.1, DMARC, the ``good`` DKIM key at
    selector s1); ``changes`` replace its records by role (mx, spf, dmarc, dkim; None removes)."""
    key = dkim_test_keys()["good"].key
    roles: dict[str, list[str] | None] = {
        "mx": [f"MX 10 mx.{domain}."],
        "spf": ['TXT "v=spf1 ip4:127.0.0.1 ip4:198.51.100.50 -all"', 'TXT "google-site-verification=abc"'],
        "dmarc": [f'TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}; adkim=r; aspf=r"'],
        "dkim": [_txt(key.dns_value())],
    }
    roles.update(changes)
    zone = {f"mx.{domain}": ["A 203.0.113.80"], domain: [*(roles["mx"] or []), *(roles["spf"] or [])]}
    if roles["dmarc"]:
        zone[f"_dmarc.{domain}"] = roles["dmarc"]
    if roles["dkim"]:
        zone[f"s1._domainkey.{domain}"] = roles["dkim"]
    return zone


def deliverability_zone() -> dict[str, list[str]]:
    """Sending domains for `optin doctor`: one set up well, and one broken in each way."""
    keys = dkim_test_keys()
    lookups = [f"include:i{n}.sender-spf-lookups.com" for n in range(1, 12)]
    zone: dict[str, list[str]] = {
        "1.0.0.127.in-addr.arpa": [f"PTR {RELAY_NAME}."],
        RELAY_NAME: ["A 127.0.0.1"],
        "2.0.0.127.in-addr.arpa": ["PTR relay.wrong-ptr.com."],  # which does not resolve back
        "relay.wrong-ptr.com": ["A 198.51.100.77"],
        SIGNUP_HOST: ["A 127.0.0.1"],
        "signup.elsewhere-links.com": ["A 127.0.0.1"],
    }
    zone.update(_sender_domain("sender-ok.com"))
    zone["ed1._domainkey.sender-ok.com"] = [_txt(keys["ed25519"].key.dns_value())]
    zone.update(_sender_domain("sender-null-mx.com", mx=["MX 0 ."]))
    zone.update(_sender_domain("sender-no-mx.com", mx=None))
    zone.update(_sender_domain("sender-no-spf.com", spf=None))
    zone.update(
        _sender_domain(
            "sender-two-spf.com",
            spf=['TXT "v=spf1 ip4:127.0.0.1 -all"', 'TXT "v=spf1 include:spf.mailjet.com -all"'],
        )
    )
    zone.update(_sender_domain("sender-plus-all.com", spf=['TXT "v=spf1 ip4:127.0.0.1 +all"']))
    zone.update(
        _sender_domain("sender-spf-lookups.com", spf=[_txt(f"v=spf1 {' '.join(lookups)} ip4:127.0.0.1 -all")])
    )
    zone.update(
        {f"i{n}.sender-spf-lookups.com": ['TXT "v=spf1 ip4:203.0.113.99 -all"'] for n in range(1, 12)}
    )
    zone.update(_sender_domain("sender-spf-miss.com", spf=['TXT "v=spf1 ip4:198.51.100.50 -all"']))
    zone.update(_sender_domain("sender-no-dmarc.com", dmarc=None))
    zone.update(_sender_domain("sender-dmarc-none.com", dmarc=['TXT "v=DMARC1; p=none"']))
    zone.update(
        _sender_domain(
            "sender-two-dmarc.com",
            dmarc=['TXT "v=DMARC1; p=reject; rua=mailto:a@sender-two-dmarc.com"', 'TXT "v=DMARC1; p=none"'],
        )
    )
    zone.update(
        _sender_domain(
            "sender-adkim-strict.com",
            dmarc=['TXT "v=DMARC1; p=reject; rua=mailto:d@sender-adkim-strict.com; adkim=s"'],
        )
    )
    zone["s1._domainkey.mail.sender-adkim-strict.com"] = [_txt(keys["good"].key.dns_value())]
    zone.update(_sender_domain("sender-no-dkim.com", dkim=None))
    zone.update(_sender_domain("sender-dkim-other.com", dkim=[_txt(keys["other"].key.dns_value())]))
    zone.update(_sender_domain("sender-dkim-short.com", dkim=[_txt(keys["short"].key.dns_value())]))
    zone.update(_sender_domain("sender-dkim-revoked.com", dkim=['TXT "v=DKIM1; k=rsa; p="']))
    return zone


def build_zone() -> dict[str, list[str]]:
    """name -> ["TYPE rdata", ...]; names not listed are NXDOMAIN."""
    zone: dict[str, list[str]] = {}
    providers = {
        "gmail.com": "142.250.102.27",
        "googlemail.com": "142.250.102.28",
        "outlook.com": "52.101.68.10",
        "hotmail.com": "52.101.68.11",
        "hotmail.fr": "52.101.68.12",
        "hotmail.es": "52.101.68.13",
        "yahoo.com": "67.195.204.72",
        "yahoo.fr": "67.195.204.73",
        "orange.fr": "193.252.22.74",
        "wanadoo.fr": "193.252.22.75",
        "free.fr": "212.27.48.6",
        "laposte.net": "160.92.124.66",
        "sfr.fr": "93.17.128.17",
        "gmx.de": "212.227.17.5",
        "web.de": "212.227.17.6",
        "t-online.de": "194.25.134.8",
        "libero.it": "213.209.1.129",
        "icloud.com": "17.57.154.33",
        "proton.me": "185.70.42.128",
        "terra.com.br": "208.84.244.40",
        "uol.com.br": "200.147.41.231",
        # real domains that merely look like providers: never "corrected"
        "live.it": "52.101.68.20",
        "proton.de": "81.169.145.100",
        "uol.com": "93.184.216.60",
        "terra.com": "93.184.216.61",
        "gmx.net": "212.227.17.7",
        # a typo domain that is registered and has MX (a typosquatter)
        "yahooo.com": "93.184.216.66",
        "mailinator.com": "93.184.216.70",
        # on disposable lists, yet one slip from gmail.com and with its own mail servers
        "cmail.com": "93.184.216.71",
        "burnermail.io": "93.184.216.72",
        "example.org": "93.184.217.8",
        "mx-ok.com": "93.184.217.10",
        "cache-positive.com": "93.184.217.11",
        "dedupe.com": "93.184.217.12",
        "catch-all.com": "93.184.217.14",
        "xn--mnchen-3ya.de": "93.184.217.13",
    }
    for domain, ip in providers.items():
        zone.update(_mx(domain, ip))
    zone["gmail.com"].append("MX 20 alt1.gmail-smtp-in.l.google.com.")
    zone["alt1.gmail-smtp-in.l.google.com"] = ["A 142.250.150.26", "AAAA 2a00:1450:4010:c1c::1a"]
    zone.update(
        {
            "null-mx.com": ["MX 0 .", "A 93.184.217.30"],
            "a-only-public.com": ["A 93.184.217.20"],
            "a-only-private.com": ["A 10.1.2.3"],
            "no-mail.com": ["TXT hello"],
            "mx-unresolvable.com": ["MX 10 mx.nowhere-host.com."],
            "mx-loopback.com": ["MX 10 mx.mx-loopback.com."],
            "mx.mx-loopback.com": ["A 127.0.0.1"],
            "mx-private.com": ["MX 10 mx.mx-private.com."],
            "mx.mx-private.com": ["A 192.168.1.10", "AAAA fd00::25"],
            "mx-v6only.com": ["MX 10 mx.mx-v6only.com."],
            "mx.mx-v6only.com": ["AAAA 2606:2800:21f::25"],
            "mx-backup.com": ["MX 10 mx1.mx-backup.com.", "MX 20 mx2.mx-backup.com."],
            "mx1.mx-backup.com": ["A 127.0.0.1"],
            "mx2.mx-backup.com": ["A 93.184.216.25"],
            "mx-host-servfail.com": ["MX 10 mx.servfail.com."],
            "mx-host-slow.com": ["MX 10 mx.slow.com."],
            "gmial.com": ["TXT parked"],  # registered, no MX, no A
            "servfail.com": [],
            "slow.com": [],
        }
    )
    zone.update(deliverability_zone())
    return zone


@dataclass
class ZoneResolver(BaseResolver):  # type: ignore[misc]
    """Answers from ``zone``; SERVFAIL under ``servfail``; sleeps ``slow_seconds`` under ``slow``."""

    zone: dict[str, list[str]]
    servfail: tuple[str, ...] = ("servfail.com",)
    slow: tuple[str, ...] = ("slow.com",)
    slow_seconds: float = 2.0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _under(self, name: str, roots: tuple[str, ...]) -> bool:
        return any(name == r or name.endswith("." + r) for r in roots)

    def resolve(self, request: Any, handler: Any) -> Any:
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.counts[(qname, qtype)] += 1
        reply = request.reply()
        if self._under(qname, self.slow):
            time.sleep(self.slow_seconds)
        if self._under(qname, self.servfail):
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        records = self.zone.get(qname)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(*RR.fromZone(f"{qname}. 60 IN SOA {SOA}"))
            return reply
        for record in records:
            rtype, rdata = record.split(" ", 1)
            if rtype == qtype:
                reply.add_answer(*RR.fromZone(f"{qname}. {TTL} IN {rtype} {rdata}"))
        if not reply.rr:
            reply.add_auth(*RR.fromZone(f"{qname}. 60 IN SOA {SOA}"))
        return reply

    def queries(self, name: str, qtype: str) -> int:
        with self.lock:
            return self.counts[(name, qtype)]


def _free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for the test DNS server")


class LoopbackDns:
    """The zone served over UDP and TCP on 127.0.0.1; ``nameserver`` is "127.0.0.1:PORT"."""

    def __init__(self, resolver: ZoneResolver) -> None:
        self.resolver = resolver
        self.port = _free_port()
        logger = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self._servers = [
            DNSServer(resolver, address="127.0.0.1", port=self.port, logger=logger, tcp=tcp)
            for tcp in (False, True)
        ]

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LoopbackDns:
        for server in self._servers:
            server.start_thread()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
