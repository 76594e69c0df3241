"""Sending politely: a recipient domain that defers our mail gets it more slowly, the rest as before.

Mailbox providers answer a sender they find too fast with a 4xx (Outlook and Yahoo: ``421 4.7.0``;
see :func:`is_deferral`) and remember who kept pushing. So after a deferral for a domain, optin waits before the next
send to that domain (1 minute, doubling with each deferral in a row, at most an hour), then
spaces sends to it out while it recovers; each delivery takes one strike off, and the last one
lifts the pacing. Other domains are not slowed. The state is a row per domain in the store,
read and changed under ``tx.lock`` so every worker instance keeps the same pace.

Domains one provider serves together (hotmail.com and outlook.com, yahoo.com and aol.com) share
one pace: the deferral comes from the same servers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.errors import MailError
from service.store import Store, Transaction
from service.store.pacing import DomainPace, forget_pace, pace, paced_domains, save_pace

log = logging.getLogger("optin.pacing")

FIRST_PAUSE = 60.0  # seconds without a send to a domain after its first deferral
MAX_PAUSE = 3600.0
FIRST_SPACING = 5.0  # seconds between sends to a domain that is recovering (one strike)
MAX_SPACING = 300.0
PROVIDERS = {
    "outlook.com": ("outlook.", "hotmail.", "live.", "msn.com", "windowslive.com"),
    "yahoo.com": ("yahoo.", "ymail.com", "rocketmail.com", "aol.com", "aim.com"),
    "gmail.com": ("gmail.com", "googlemail.com"),
}


def pacing_key(recipient: str) -> str:
    """The domain whose pace a recipient shares: its own, or its provider's."""
    domain = recipient.rpartition("@")[2].lower().rstrip(".")
    for provider, prefixes in PROVIDERS.items():
        if any(domain.startswith(p) if p.endswith(".") else domain == p for p in prefixes):
            return provider
    return domain


def pause_after(strikes: int) -> float:
    return float(min(FIRST_PAUSE * 2 ** max(strikes - 1, 0), MAX_PAUSE))


def spacing(strikes: int) -> float:
    return float(min(FIRST_SPACING * 2 ** max(strikes - 1, 0), MAX_SPACING))


_ENHANCED = re.compile(r"\b4\.(\d{1,3})\.\d{1,3}\b")


def is_deferral(error: MailError) -> bool:
    """Whether the relay's answer to this message (RCPT or DATA) says "slow down".

    That is a 421 (the server closes the channel: Yahoo's and Outlook's "421 4.7.0"), or any 4xx
    whose enhanced status is 4.7.x (policy: Gmail's 4.7.28, Outlook's "451 4.7.500 Server busy").
    Other 4xx (451 4.3.0 a local error, 452 4.2.2 a full mailbox) are only retried; failing to
    connect, secure or log in is the relay's problem, not a domain's.
    """
    if not error.in_transaction or error.code is None or not 400 <= error.code < 500:
        return False
    enhanced = _ENHANCED.search(error.detail)
    return error.code == 421 or (enhanced is not None and enhanced.group(1) == "7")


@dataclass(frozen=True)
class Admission:
    wait_until: float | None  # None: send now
    paced: bool  # the domain is being paced: tell :meth:`Pacing.delivered` how it went


class Pacing:
    """``refresh``: how often the list of paced domains is read again (a deferral another worker
    saw reaches this one within that time; one this worker sees counts at once)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time, refresh: float = 2.0) -> None:
        self.store = store
        self.clock = clock
        self.refresh = refresh
        self._paced: set[str] = set()
        self._read_at = -refresh

    async def _is_paced(self, domain: str) -> bool:
        # One read every few seconds instead of one per email: nearly always nothing is paced.
        if time.monotonic() - self._read_at >= self.refresh:
            self._paced = set(await paced_domains(self.store))
            self._read_at = time.monotonic()
        return domain in self._paced

    async def admit(self, recipient: str) -> Admission:
        """Whether a message to ``recipient`` may go now; if so, its slot is taken."""
        domain = pacing_key(recipient)
        if not await self._is_paced(domain):
            return Admission(None, False)
        now = self.clock()

        def take_slot(tx: Transaction) -> float | None:
            tx.lock(f"pacing:{domain}")
            row = pace(tx, domain)
            if row is None:
                return None
            if now < row.not_before:
                return row.not_before
            save_pace(tx, DomainPace(domain, row.strikes, now + spacing(row.strikes), row.last_reply, now))
            return None

        return Admission(await self.store.write(take_slot), True)

    async def deferred(self, recipient: str, reply: str) -> float:
        """``recipient``'s domain deferred a message: pause it longer. Returns when it may go again."""
        domain = pacing_key(recipient)
        now = self.clock()

        def strike(tx: Transaction) -> DomainPace:
            tx.lock(f"pacing:{domain}")
            row = pace(tx, domain)
            strikes = (row.strikes if row else 0) + 1
            updated = DomainPace(domain, strikes, now + pause_after(strikes), reply[:500], now)
            save_pace(tx, updated)
            return updated

        updated = await self.store.write(strike)
        self._paced.add(domain)
        log.warning(
            "%s deferred a message (%d in a row): no sends to it for %.0fs, then spaced out: %s",
            domain,
            updated.strikes,
            updated.not_before - now,
            reply,
        )
        return updated.not_before

    async def delivered(self, recipient: str) -> None:
        """A paced domain took a message: one strike off; the last one ends the pacing."""
        domain = pacing_key(recipient)
        now = self.clock()

        def recover(tx: Transaction) -> int | None:
            tx.lock(f"pacing:{domain}")
            row = pace(tx, domain)
            if row is None:
                return None
            if row.strikes <= 1:
                forget_pace(tx, domain)
                return 0
            save_pace(tx, DomainPace(domain, row.strikes - 1, row.not_before, row.last_reply, now))
            return row.strikes - 1

        left = await self.store.write(recover)
        if left == 0:
            self._paced.discard(domain)
            log.info("%s takes our mail again: sends to it are no longer slowed", domain)
