"""Settings of the verification engine (``[dns]`` and ``[verification]`` in the settings file)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import ConfigError
from service.verification.dnscheck import parse_nameserver

# settings key -> (VerifierConfig field, expected type)
DNS_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "nameservers": ("nameservers", list),
    "timeout": ("dns_timeout", (int, float)),
    "negative_ttl": ("negative_ttl", (int, float)),
    "max_ttl": ("max_ttl", (int, float)),
    "cache_size": ("cache_size", int),
}
VERIFICATION_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "deadline": ("deadline", (int, float)),
    "max_mx_hosts": ("max_mx_hosts", int),
    "allow_private_mx": ("allow_private_mx", bool),
    "disposable_allowlist": ("disposable_allowlist", list),
    "disposable_blocklist": ("disposable_blocklist", list),
    "probe": ("probe", bool),
    "probe_helo": ("probe_helo", str),
    "probe_mail_from": ("probe_mail_from", str),
    "probe_timeout": ("probe_timeout", (int, float)),
    "probe_port": ("probe_port", int),
}


@dataclass(frozen=True)
class VerifierConfig:
    """How the verifier reaches DNS (and, when enabled, mail servers), and how long it may take.

    nameservers:   "HOST:PORT" strings ("127.0.0.1:5353", "[::1]:53", "9.9.9.9"); empty means the
                   system resolver configuration (/etc/resolv.conf).
    dns_timeout:   seconds one DNS query may take before the answer counts as unknown.
    deadline:      seconds one whole verification may take; past it, DNS gives ``unknown``.
    negative_ttl:  seconds to remember NXDOMAIN / no-data when the answer carries no SOA.
    max_ttl:       cap on how long any answer is cached.
    cache_size:    entries kept per cache (records, and whole-domain results).
    max_mx_hosts:  MX hosts looked at (best preference first).
    allow_private_mx: accept MX hosts on private addresses (an intranet deployment).
    disposable_allowlist / disposable_blocklist: domains that override the disposable list.
    probe:         SMTP RCPT probe (off by default; port 25 is blocked on most clouds).
    probe_helo, probe_mail_from: what the probe says in HELO and MAIL FROM.
    probe_timeout: hard deadline of one probe, seconds.  probe_port: the MX port (25).
    probe_connect: "HOST:PORT" every probe connects to instead of the MX host (a relay; tests).
    """

    nameservers: tuple[str, ...] = ()
    dns_timeout: float = 2.0
    deadline: float = 3.0
    negative_ttl: float = 300.0
    max_ttl: float = 86400.0
    cache_size: int = 100_000
    max_mx_hosts: int = 5
    allow_private_mx: bool = False
    disposable_allowlist: frozenset[str] = frozenset()
    disposable_blocklist: frozenset[str] = frozenset()
    probe: bool = False
    probe_helo: str = "localhost"
    probe_mail_from: str = ""
    probe_timeout: float = 10.0
    probe_port: int = 25
    probe_connect: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        for spec in self.nameservers:
            try:
                parse_nameserver(spec)
            except ValueError:
                problems.append(f"nameserver {spec!r} is not an IP address with an optional :PORT")
        for name in ("dns_timeout", "deadline", "probe_timeout"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be a positive number of seconds")
        if self.cache_size < 1 or self.max_mx_hosts < 1:
            problems.append("cache_size and max_mx_hosts must be at least 1")
        if problems:
            raise ConfigError(problems)

    @classmethod
    def from_mapping(
        cls, dns: Mapping[str, Any] | None = None, verification: Mapping[str, Any] | None = None
    ) -> VerifierConfig:
        """Build from the ``[dns]`` and ``[verification]`` tables; mistakes raise ConfigError."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for section, table, keys in (
            ("dns", dns, DNS_KEYS),
            ("verification", verification, VERIFICATION_KEYS),
        ):
            for key, value in (table or {}).items():
                if key not in keys:
                    problems.append(
                        f"unknown setting [{section}] {key!r}; expected one of: {', '.join(keys)}"
                    )
                    continue
                field, expected = keys[key]
                bad_bool = isinstance(value, bool) and expected is not bool
                if not isinstance(value, expected) or bad_bool:
                    problems.append(f"[{section}] {key} has the wrong type ({type(value).__name__})")
                elif isinstance(value, list):
                    if not all(isinstance(v, str) for v in value):
                        problems.append(f"[{section}] {key} must be a list of strings")
                    elif field == "nameservers":
                        values[field] = tuple(value)
                    else:
                        values[field] = frozenset(v.strip().lower() for v in value)
                else:
                    values[field] = value
        if problems:
            raise ConfigError(problems)
        return cls(**values)

    def replace(self, **changes: Any) -> VerifierConfig:
        return dataclasses.replace(self, **changes)
