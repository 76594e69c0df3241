"""The admin's own records: who looked at a person's data, failed sign-ins to slow guessing, and
sessions signed out before they expired.

All are shared by every instance on the database. Failed sign-ins count in the one-minute
``rate_buckets`` the signup limits use, under keys of their own.
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


async def signin_blocked(
    store: BaseStore, limits: Sequence[tuple[str, int]], window: float, now: float
) -> bool:
    """Whether any key (a client IP, everyone) has reached its limit of failures in ``window``."""

    def look(tx: Transaction) -> bool:
        return any(limit > 0 and _failures(tx, key, now - window) >= limit for key, limit in limits)

    return await store.read(look)


async def signin_failed(store: BaseStore, keys: Sequence[str], now: float) -> None:
    def count(tx: Transaction) -> None:
        tx.lock(*keys)
        for key in keys:
            tx.add_to_bucket(key, int(now // BUCKET))

    await store.write(count)


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
