"""Does a domain accept mail? MX, null MX, A/AAAA fallback and MX host addresses, over DNS.

The only I/O in the verification engine apart from the optional SMTP probe. dnspython's async
resolver talks to configurable nameservers ("HOST:PORT"); answers, positive and negative, are cached
for their TTL (negative ones for the SOA minimum); concurrent lookups of one name share one query.
A timeout, SERVFAIL or silent nameserver gives ``unknown``, never ``undeliverable``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import dns.asyncresolver
import dns.exception
import dns.message
import dns.nameserver
import dns.rdatatype
import dns.resolver

from service.verification.addresses import is_public

MailStatus = Literal["ok", "undeliverable", "unknown"]
K = TypeVar("K")
V = TypeVar("V")


def is_routable(address: str) -> bool:
    """Whether a mail server could be reached at this IP address from the Internet."""
    return is_public(address)


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``"127.0.0.1:5353"``, ``"[::1]:53"``, ``"::1"`` or ``"9.9.9.9"`` → (host, port)."""
    spec = spec.strip()
    host, port = spec, 53
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif spec.count(":") == 1:
        host, _, port_text = spec.partition(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # raises ValueError for a name: nameservers must be addresses
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


@dataclass(frozen=True)
class Lookup:
    """One DNS answer: ``kind`` is answer | nxdomain | nodata | error."""

    kind: Literal["answer", "nxdomain", "nodata", "error"]
    values: tuple[str, ...] = ()
    expires: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class MailDomain:
    """Whether a domain accepts mail, why, and the hosts that take it (best first)."""

    status: MailStatus
    reason: str
    hosts: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    expires: float = 0.0


class TTLCache(Generic[K, V]):
    """A dict whose entries expire; the oldest entry goes first when it is full."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}

    def get(self, key: K, now: float) -> V | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= now:
            del self._data[key]
            return None
        return item[1]

    def put(self, key: K, value: V, expires: float) -> None:
        if key not in self._data and len(self._data) >= self.max_entries:
            del self._data[next(iter(self._data))]
        self._data[key] = (expires, value)

    def __len__(self) -> int:
        return len(self._data)


class _Shared(Generic[K, V]):
    """Run one coroutine per key at a time; later callers await the same task."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, factory: Callable[[], Awaitable[V]]) -> V:
        task = self._tasks.get(key)
        if task is None:

            async def runner() -> V:
                return await factory()

            task = asyncio.get_running_loop().create_task(runner())
            self._tasks[key] = task
            task.add_done_callback(lambda _t: self._tasks.pop(key, None))
        # shield: a caller hitting its deadline must not cancel the lookup others wait for
        return await asyncio.shield(task)


def _negative_ttl(response: dns.message.Message | None, default: float) -> float:
    if response is None:
        return default
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return float(min(rrset.ttl, rrset[0].minimum))
    return default


class DnsChecker:
    """Mail-domain checks against configured nameservers, with caches and shared lookups."""

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        timeout: float = 2.0,
        negative_ttl: float = 300.0,
        max_ttl: float = 86400.0,
        max_mx_hosts: int = 5,
        cache_size: int = 100_000,
        allow_private: bool = False,
    ) -> None:
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(s)) for s in nameservers]
        else:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration:  # no resolv.conf: every lookup is unknown
                resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.timeout = timeout
        resolver.lifetime = timeout
        resolver.cache = None
        self.resolver = resolver
        self.negative_ttl = negative_ttl
        self.max_ttl = max_ttl
        self.max_mx_hosts = max_mx_hosts
        self.allow_private = allow_private
        self._records: TTLCache[tuple[str, str], Lookup] = TTLCache(cache_size)
        self._domains: TTLCache[str, MailDomain] = TTLCache(cache_size)
        self._shared_records: _Shared[tuple[str, str], Lookup] = _Shared()
        self._shared_domains: _Shared[str, MailDomain] = _Shared()
        self.queries_sent = 0

    def _routable(self, address: str) -> bool:
        return self.allow_private or is_routable(address)

    async def query(self, name: str, rdtype: str) -> Lookup:
        """One lookup, from the cache when fresh; concurrent callers share the query."""
        key = (name.lower().rstrip("."), rdtype)
        cached = self._records.get(key, time.monotonic())
        if cached is not None:
            return cached
        return await self._shared_records.run(key, lambda: self._query(*key))

    async def _query(self, name: str, rdtype: str) -> Lookup:
        self.queries_sent += 1
        now = time.monotonic()
        try:
            answer = await self.resolver.resolve(name + ".", rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as exc:
            responses: dict[object, dns.message.Message] = exc.kwargs.get("responses") or {}
            response = next(iter(responses.values()), None)
            ttl = min(_negative_ttl(response, self.negative_ttl), self.max_ttl)
            result = Lookup("nxdomain", expires=now + ttl)
        except dns.exception.Timeout:
            return Lookup("error", error="dns_timeout")
        except dns.resolver.NoNameservers:
            return Lookup("error", error="dns_servfail")
        except (dns.exception.DNSException, OSError, ValueError):
            return Lookup("error", error="dns_error")
        else:
            if answer.rrset is None:
                ttl = min(_negative_ttl(answer.response, self.negative_ttl), self.max_ttl)
                result = Lookup("nodata", expires=now + ttl)
            else:
                values = tuple(_rdata_text(rdata) for rdata in answer.rrset)
                result = Lookup("answer", values, expires=now + min(float(answer.rrset.ttl), self.max_ttl))
        self._records.put((name, rdtype), result, result.expires)
        return result

    def forget(self) -> None:
        """Drop every cached answer (they came from a resolver that was not working)."""
        self._records = TTLCache(self._records.max_entries)
        self._domains = TTLCache(self._domains.max_entries)

    def cached(self, ascii_domain: str) -> MailDomain | None:
        """The cached result for ``ascii_domain`` (lowercase, no final dot), without any I/O."""
        return self._domains.get(ascii_domain, time.monotonic())

    async def check(self, ascii_domain: str) -> MailDomain:
        """Whether ``ascii_domain`` accepts mail; cached until its earliest record expires."""
        domain = ascii_domain.lower().rstrip(".")
        cached = self._domains.get(domain, time.monotonic())
        if cached is not None:
            return cached
        return await self._shared_domains.run(domain, lambda: self._check(domain))

    async def _check(self, domain: str) -> MailDomain:
        result = await self._evaluate(domain)
        if result.status != "unknown":
            self._domains.put(domain, result, result.expires)
        return result

    async def _addresses(self, host: str) -> tuple[list[Lookup], float]:
        found = await asyncio.gather(self.query(host, "A"), self.query(host, "AAAA"))
        return list(found), min(f.expires for f in found)

    async def _evaluate(self, domain: str) -> MailDomain:
        mx = await self.query(domain, "MX")
        if mx.kind == "error":
            return MailDomain("unknown", mx.error)
        if mx.kind == "nxdomain":
            return MailDomain("undeliverable", "domain_not_found", expires=mx.expires)
        if mx.kind == "answer":
            records = sorted((int(p), h) for p, h in (v.split(" ", 1) for v in mx.values))
            hosts = [h.rstrip(".").lower() for _, h in records if h.rstrip(".")]
            if not hosts:
                return MailDomain("undeliverable", "null_mx", expires=mx.expires)
            hosts = list(dict.fromkeys(hosts))[: self.max_mx_hosts]
            per_host = await asyncio.gather(*(self._addresses(h) for h in hosts))
            expires = min([mx.expires, *(e for _, e in per_host)])
            errors = [lk.error for lookups, _ in per_host for lk in lookups if lk.kind == "error"]
            private = False
            for lookups, _ in per_host:
                ips = [ip for lk in lookups for ip in lk.values]
                usable = tuple(ip for ip in ips if self._routable(ip))
                if usable:
                    return MailDomain("ok", "mx", tuple(hosts), usable, expires)
                private = private or bool(ips)
            if errors:
                return MailDomain("unknown", errors[0], tuple(hosts))
            reason = "mx_host_private" if private else "mx_host_unresolvable"
            return MailDomain("undeliverable", reason, tuple(hosts), expires=expires)
        # No MX: RFC 5321 §5.1 implicit MX, the domain's own A/AAAA
        lookups, expires = await self._addresses(domain)
        expires = min(expires, mx.expires)
        ips = [ip for lk in lookups for ip in lk.values]
        usable = tuple(ip for ip in ips if self._routable(ip))
        if usable:
            return MailDomain("ok", "a_fallback", (domain,), usable, expires)
        if ips:
            return MailDomain("undeliverable", "a_fallback_private", expires=expires)
        errors = [lk.error for lk in lookups if lk.kind == "error"]
        if errors:
            return MailDomain("unknown", errors[0])
        return MailDomain("undeliverable", "no_mail_server", expires=expires)


def _rdata_text(rdata: object) -> str:
    exchange = getattr(rdata, "exchange", None)
    if exchange is not None:
        return f"{getattr(rdata, 'preference', 0)} {exchange.to_text(omit_final_dot=True) or '.'}"
    return str(rdata)
