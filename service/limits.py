"""Subscription-bombing defences: who may sign up how often, and how many emails an address gets.

Bots use signup forms to flood a victim's inbox with confirmation emails. Two kinds of limit:

- request limits, per client IP, per network (IPv4 /24, IPv6 /56) and per form, answered
  ``429`` with ``Retry-After``: the sender is told to slow down;
- an email budget per recipient *inbox* (default 1 per 24 h and 3 per 30 days; tags, case and
  Gmail's dots do not make a new inbox, see :mod:`service.mailbox`): a request past it is
  answered exactly like an accepted one and sends nothing, so the budget reveals nothing. Every
  confirmation email spends it, "send me a new link" included.

Counters live in the database (``rate_hits``), so every instance sharing it shares the limits.
The functions run inside a store transaction; the window arithmetic is plain.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import math

from service.errors import InputError
from service.mailbox import mailbox_key
from service.settings import LimitSettings
from service.store import Transaction

HOUR = 3600.0
DAY = 86_400.0
MONTH = 30 * DAY
KEEP_SECONDS = MONTH + DAY  # the longest window, plus a margin


@functools.lru_cache(maxsize=4096)  # the same visitors come back; ipaddress is slow to parse
def network_of(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 56
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@functools.lru_cache(maxsize=4)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def address_hash(secret: str, email: str) -> str:
    """A keyed hash of an address: counts and erasures without keeping the address itself."""
    keyed = _keyed(secret).copy()  # the key's pads are computed once, not for every address
    keyed.update(email.lower().encode())
    return keyed.hexdigest()


def budget_key(secret: str, email: str) -> str:
    """The email budget's key for ``email``: a keyed hash of the inbox it reaches."""
    return address_hash(secret, mailbox_key(email))


BUCKET = 60  # seconds: request limits count per minute, so an hour is at most 60 rows


def _wait(count: int, oldest: int | None, limit: int, now: float) -> int | None:
    """Seconds until a key counted ``count`` times this hour (the oldest in minute ``oldest``)
    may be used again, or None when it is under ``limit``."""
    if limit <= 0 or count < limit:
        return None
    first = oldest if oldest is not None else int(now // BUCKET)
    return max(1, math.ceil((first + 1) * BUCKET + HOUR - BUCKET - now))


def over_hourly(tx: Transaction, key: str, limit: int, now: float) -> int | None:
    """Seconds until ``key`` may be counted again this hour, or None when it is under ``limit``."""
    if limit <= 0:
        return None
    current = int(now // BUCKET)
    return _wait(*tx.count_buckets(key, current - int(HOUR // BUCKET) + 1), limit, now)


def check_request(tx: Transaction, limits: LimitSettings, form_id: str, ip: str | None, now: float) -> None:
    """Count one signup request, or refuse it with a 429 that says when to come back."""
    checks = [(f"form:{form_id}", limits.signups_per_form_hour, "this form")]
    if ip:
        checks.append((f"ip:{ip}", limits.signups_per_ip_hour, "your address"))
        network = network_of(ip) if limits.signups_per_network_hour > 0 else None
        if network:
            checks.append((f"net:{network}", limits.signups_per_network_hour, "your network"))
    checks = [check for check in checks if check[1] > 0]
    if not checks:
        return
    # Instances sharing a database count one after the other per visitor and network (the
    # form's own counter is approximate by a few concurrent requests, and never a bottleneck).
    tx.lock(*(key for key, _, _ in checks if not key.startswith("form:")))
    current = int(now // BUCKET)
    counted = tx.count_buckets_of([key for key, _, _ in checks], current - int(HOUR // BUCKET) + 1)
    for key, limit, whom in checks:
        wait = _wait(*counted[key], limit, now)
        if wait is not None:
            minutes = max(1, math.ceil(wait / 60))
            raise InputError(
                f"too many signups from {whom} right now; please try again in {minutes} minute(s)",
                status=429,
                retry_after=wait,
            )
    for key, _, _ in checks:
        tx.add_to_bucket(key, current)


def allow_confirmation_email(tx: Transaction, limits: LimitSettings, recipient_hash: str, now: float) -> bool:
    """Whether the address's email budget allows one more confirmation; if so, spend it."""
    key = f"mail:{recipient_hash}"
    windows = [(limit, span) for limit, span in ((limits.emails_per_address_day, DAY),
               (limits.emails_per_address_month, MONTH)) if limit > 0]  # fmt: skip
    if windows:
        tx.lock(key)  # two replicas taking the last email of a budget at once would send two
        counts = tx.hit_windows(key, tuple(now - span for _, span in windows))
        if any(count >= limit for (limit, _), (count, _) in zip(windows, counts, strict=True)):
            return False
    tx.add_hit(key, now)
    return True


class MinuteCounter:
    """Requests per key over the last minute, in memory (per instance), for cheap endpoints.

    Two fixed one-minute windows, the previous one weighted by how much of it still overlaps the
    last 60 seconds: an approximation of a sliding window that costs two integers per key.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._minute = -1
        self._current: dict[str, int] = {}
        self._previous: dict[str, int] = {}

    def hit(self, key: str, now: float) -> int | None:
        """Count one request; seconds to wait when ``key`` is over the limit (then not counted)."""
        if self.limit <= 0:
            return None
        minute = int(now // 60)
        if minute != self._minute:
            self._previous = self._current if minute == self._minute + 1 else {}
            self._current = {}
            self._minute = minute
        overlap = 1.0 - (now % 60) / 60
        estimate = self._current.get(key, 0) + self._previous.get(key, 0) * overlap
        if estimate >= self.limit:
            return max(1, math.ceil(60 - now % 60))
        self._current[key] = self._current.get(key, 0) + 1
        return None
