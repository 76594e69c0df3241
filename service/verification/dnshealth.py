"""Whether the resolver works at all: the mail servers of a few well-known domains, looked up
at start-up and every few minutes.

A resolver that fails for everything (a sandbox's DNS proxy answering "no such domain" to every
name, a resolv.conf pointing nowhere) would make every address look undeliverable and every
signup be refused. While these lookups fail, the verifier is told not to trust "does not exist"
(:attr:`Verifier.dns_trusted`): such findings become ``unknown``, which forms accept by default.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal

from service.verification.config import VerifierConfig
from service.verification.dnscheck import DnsChecker
from service.verification.engine import Verifier

log = logging.getLogger("optin.dns")
CANARIES = ("gmail.com", "outlook.com", "yahoo.com")
RECHECK_SECONDS = 300.0


@dataclass(frozen=True)
class ResolverHealth:
    state: Literal["unchecked", "ok", "failing"]
    detail: str = ""
    checked_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state != "failing"

    def to_json(self) -> dict[str, object]:
        return {"state": self.state, "detail": self.detail, "checked_at": round(self.checked_at, 3)}


def _resolver_name(config: VerifierConfig) -> str:
    return f"the nameservers {', '.join(config.nameservers)}" if config.nameservers else "the system resolver"


async def check_resolver(config: VerifierConfig) -> ResolverHealth:
    """Look the canary domains up afresh (no cache); the resolver works if one has a mail server."""
    checker = DnsChecker(
        config.nameservers, timeout=config.dns_timeout, max_mx_hosts=1, allow_private=config.allow_private_mx
    )
    now = time.time()
    try:
        async with asyncio.timeout(config.dns_timeout * 2 + 0.5):
            found = await asyncio.gather(*(checker.check(domain) for domain in CANARIES))
    except TimeoutError:
        return ResolverHealth("failing", f"{_resolver_name(config)} gave no answer in time", now)
    if any(mail.status == "ok" for mail in found):
        return ResolverHealth("ok", f"{_resolver_name(config)} finds mail servers", now)
    seen = ", ".join(f"{domain}: {mail.reason}" for domain, mail in zip(CANARIES, found, strict=True))
    return ResolverHealth("failing", f"{_resolver_name(config)} finds no mail server for any of {seen}", now)


class ResolverWatch:
    """Keeps the verifier's trust in DNS in step with the resolver's health."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self.health = ResolverHealth("unchecked")

    async def check(self) -> ResolverHealth:
        before, self.health = self.health, await check_resolver(self.verifier.config)
        self.verifier.dns_trusted = self.health.ok
        if not self.health.ok and before.state != "failing":
            log.warning(
                "!!! DNS IS NOT WORKING: %s. Until it works again, an address whose domain seems"
                " not to exist is accepted as 'unknown' instead of refused. Fix the resolver or set"
                " [dns] nameservers; /healthz shows the state.",
                self.health.detail,
            )
        elif self.health.ok and before.state == "failing":
            self.verifier.forget_dns()  # "no such domain" answers cached during the outage
            log.warning("DNS works again: %s", self.health.detail)
        return self.health

    async def run(self, every: float = RECHECK_SECONDS) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.check()
            except Exception:  # the watch must outlive a surprise; the next round tries again
                log.exception("checking the resolver failed")
