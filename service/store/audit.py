"""The admin's own records: who looked at a person's data, failed sign-ins to slow guessing, and
sessions signed out before they expired.

All are shared by every instance on the database. Sign-in attempts count in the one-minute
``rate_buckets`` the signup limits use, under keys of their own; a successful one is taken back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.store.base import BaseStore
from service.store.transaction import Transaction

BUCKET = 60


@dataclass(frozen=True)
class Access:
    at: float
    actor: str  # "key:NAME" or "password"
    action: str  # view | export | erase
    ip: str | None


async def record_access(
    store: BaseStore, actor: str, action: str, address_hash: str, ip: str | None, now: float
) -> None:
    await store.write(
        lambda tx: tx.execute(
            "INSERT INTO data_access (at, actor, action, address_hash, ip) VALUES (?, ?, ?, ?, ?)",
            (now, actor, action, address_hash, ip),
        )
    )


async def accesses(store: BaseStore, address_hash: str, limit: int = 50) -> list[Access]:
    """The latest views of one address's data, newest first."""
    rows = await store.read(
        lambda tx: tx.execute(
            "SELECT at, actor, action, ip FROM data_access WHERE address_hash = ? ORDER BY at DESC, id DESC"
            " LIMIT ?",
            (address_hash, limit),
        ).fetchall()
    )
    return [Access(float(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def _failures(tx: Transaction, key: str, since: float) -> int:
    count, _ = tx.count_buckets(key, int(since // BUCKET))
    return count


async def signin_admitted(
    store: BaseStore, limits: Sequence[tuple[str, int]], window: float, now: float
) -> bool:
    """Whether a sign-in attempt may be checked: no key (a client IP, everyone) has reached its
    limit in ``window``. An admitted attempt is counted at once, in the same transaction as the
    look, so that guesses sent together cannot all pass the look before any is counted; a
    sign-in that succeeds gives its count back (:func:`signin_succeeded`)."""

    def admit(tx: Transaction) -> bool:
        tx.lock(*(key for key, _ in limits))
        if any(limit > 0 and _failures(tx, key, now - window) >= limit for key, limit in limits):
            return False
        for key, _ in limits:
            tx.add_to_bucket(key, int(now // BUCKET))
        return True

    return bool(await store.write(admit))


async def signin_succeeded(store: BaseStore, keys: Sequence[str], admitted_at: float) -> None:
    """The attempt admitted at ``admitted_at`` was right: it is not a failure."""

    def give_back(tx: Transaction) -> None:
        for key in keys:  # written with every other count, in the batch's final flush
            tx.add_to_bucket(key, int(admitted_at // BUCKET), -1)

    await store.write(give_back)


async def sign_out(store: BaseStore, sid: str, expires_at: float) -> None:
    await store.write(
        lambda tx: tx.execute(
            "INSERT INTO admin_signouts (sid, expires_at) VALUES (?, ?) ON CONFLICT (sid) DO NOTHING",
            (sid, expires_at),
        )
    )


async def signed_out(store: BaseStore, sid: str) -> bool:
    row = await store.read(
        lambda tx: tx.execute("SELECT 1 FROM admin_signouts WHERE sid = ?", (sid,)).fetchone()
    )
    return row is not None


def forget_signouts(tx: Transaction, now: float, limit: int) -> int:
    """Sign-outs of sessions that have expired anyway: their cookies are refused for their age."""
    return tx.execute(
        "DELETE FROM admin_signouts WHERE sid IN"
        " (SELECT sid FROM admin_signouts WHERE expires_at < ? LIMIT ?)",
        (now, limit),
    ).rowcount
