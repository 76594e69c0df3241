"""DNS for the doctor: dnspython on the configured nameservers (``[dns] nameservers``).

What the world sees is public DNS, so the doctor asks the same resolvers as verification does,
not the machine's own view (a split-horizon resolver may know records the world does not).
Every answer says whether records were found, there are none (NXDOMAIN, no data), or the
question could not be answered (timeout, SERVFAIL): "none" and "unknown" are told apart.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import dns.reversename

from service.verification.config import VerifierConfig
from service.verification.dnscheck import parse_nameserver

State = Literal["found", "none", "unknown"]


@dataclass(frozen=True)
class Lookup:
    name: str
    rtype: str
    state: State
    records: tuple[str, ...] = ()
    error: str = ""
    raw: tuple[object, ...] = field(default=(), repr=False)  # the rdata objects

    def __bool__(self) -> bool:
        return self.state == "found"


class Dns:
    """Synchronous lookups (the doctor is a command, and pyspf asks synchronously)."""

    def __init__(self, config: VerifierConfig) -> None:
        self.resolver = dns.resolver.Resolver(configure=not config.nameservers)
        if config.nameservers:
            self.resolver.nameservers = [
                dns.nameserver.Do53Nameserver(*parse_nameserver(spec)) for spec in config.nameservers
            ]
        self.resolver.timeout = config.dns_timeout
        self.resolver.lifetime = max(config.dns_timeout * 2, config.deadline)
        self.queries = 0

    def lookup(self, name: str, rtype: str) -> Lookup:
        self.queries += 1
        name = name.rstrip(".")
        try:
            answer = self.resolver.resolve(name, rtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return Lookup(name, rtype, "none")
        except dns.resolver.NoNameservers:
            return Lookup(name, rtype, "unknown", error="the nameservers answered with an error (SERVFAIL)")
        except dns.exception.Timeout:
            return Lookup(name, rtype, "unknown", error="no answer in time")
        except (dns.exception.DNSException, ValueError) as exc:
            return Lookup(name, rtype, "unknown", error=str(exc) or type(exc).__name__)
        rdatas = tuple(answer)
        return Lookup(name, rtype, "found", tuple(_text(r) for r in rdatas), raw=rdatas)

    def txt(self, name: str) -> Lookup:
        return self.lookup(name, "TXT")

    def addresses(self, name: str) -> tuple[list[str], str]:
        """A and AAAA records of ``name`` (an IP literal is itself); and an error, if any."""
        try:
            return [str(ipaddress.ip_address(name.strip("[]")))], ""
        except ValueError:
            pass
        found, errors = [], []
        for rtype in ("A", "AAAA"):
            result = self.lookup(name, rtype)
            found += list(result.records)
            if result.state == "unknown":
                errors.append(f"{rtype}: {result.error}")
        return found, "; ".join(errors)

    def ptr(self, address: str) -> Lookup:
        return self.lookup(dns.reversename.from_address(address).to_text(), "PTR")


def _text(rdata: object) -> str:
    strings = getattr(rdata, "strings", None)
    if strings is not None:  # TXT: one record may be several strings, to be joined as they are
        return b"".join(strings).decode("utf-8", "replace")
    if isinstance(getattr(rdata, "exchange", None), dns.name.Name):
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True)}"  # type: ignore[attr-defined]
    if isinstance(getattr(rdata, "target", None), dns.name.Name):
        return str(rdata.target.to_text(omit_final_dot=True))  # type: ignore[attr-defined]
    return str(rdata.to_text())  # type: ignore[attr-defined]
