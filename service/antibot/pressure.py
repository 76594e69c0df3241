"""How hard a client is pressing: the refusals it was given lately and the challenges it fetched.

Counted in the store's one-minute ``rate_buckets`` over the last hour, so every instance sharing
the database sees the same numbers. A refusal is a bot signal from the anti-bot guard (a filled
honeypot, a missing, forged or reused proof, a form sent too fast) or any 429 answered to the
client (see :mod:`service.antibot.watch`); it counts for the client's address and its network
(IPv4 /24, IPv6 /56). The functions run inside a store transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.antibot.policy import ALTCHA_MAX_NUMBER_RANGE, DIFFICULTY_FACTORS
from service.store import Transaction

BUCKET_SECONDS = 60
WINDOW_BUCKETS = 60  # an hour
NETWORK_REFUSALS = 3  # a network refused this often raises its clients' difficulty
ADDRESS_REFUSALS_HIGH = 10  # an address refused this often gets the highest difficulty


@dataclass(frozen=True)
class Pressure:
    address_refusals: int = 0
    network_refusals: int = 0


def _bucket(now: float) -> int:
    return int(now // BUCKET_SECONDS)


def _count(tx: Transaction, key: str, now: float) -> tuple[int, int | None]:
    return tx.count_buckets(key, _bucket(now) - WINDOW_BUCKETS + 1)


def _network(ip: str) -> str | None:
    # service.limits imports service.settings, which imports this package: import it late.
    from service.limits import network_of

    return network_of(ip)


def _keys(ip: str) -> list[str]:
    network = _network(ip)
    return [f"refused:ip:{ip}", *([f"refused:net:{network}"] if network else [])]


def note_refusal(tx: Transaction, ip: str, now: float) -> None:
    for key in _keys(ip):
        tx.add_to_bucket(key, _bucket(now))


def pressure(tx: Transaction, ip: str, now: float) -> Pressure:
    network = _network(ip)
    address = _count(tx, f"refused:ip:{ip}", now)[0]
    return Pressure(address, _count(tx, f"refused:net:{network}", now)[0] if network else address)


def difficulty(base: int, seen: Pressure) -> int:
    """The ALTCHA range for a client under ``seen`` pressure, from the form's ``base``."""
    if seen.address_refusals >= ADDRESS_REFUSALS_HIGH:
        factor = DIFFICULTY_FACTORS[2]
    elif seen.address_refusals or seen.network_refusals >= NETWORK_REFUSALS:
        factor = DIFFICULTY_FACTORS[1]
    else:
        factor = DIFFICULTY_FACTORS[0]
    return min(base * factor, ALTCHA_MAX_NUMBER_RANGE[1])


def take_challenge(tx: Transaction, ip: str, limit: int, now: float) -> int | None:
    """Count one challenge for ``ip``; seconds to wait instead when it had ``limit`` this hour."""
    if limit <= 0:
        return None
    key = f"challenge:ip:{ip}"
    tx.lock(key)  # instances (and batches) sharing PostgreSQL count one after the other
    count, oldest = _count(tx, key, now)
    if count >= limit:
        first = oldest if oldest is not None else _bucket(now)
        return max(1, math.ceil((first + WINDOW_BUCKETS) * BUCKET_SECONDS - now))
    tx.add_to_bucket(key, _bucket(now))
    return None
