"""The SQL of per-domain pacing (service.pacing decides; this only reads and writes rows)."""

from __future__ import annotations

from dataclasses import astuple, dataclass

from service.store.base import BaseStore
from service.store.transaction import Transaction

_COLUMNS = "domain, strikes, not_before, last_reply, updated_at"


@dataclass(frozen=True)
class DomainPace:
    domain: str
    strikes: int  # deferrals in a row; each delivery takes one off
    not_before: float  # no send to the domain before this time
    last_reply: str  # the deferral's words, for the owner
    updated_at: float


def pace(tx: Transaction, domain: str) -> DomainPace | None:
    row = tx.execute(f"SELECT {_COLUMNS} FROM domain_pacing WHERE domain = ?", (domain,)).fetchone()
    return DomainPace(str(row[0]), int(row[1]), float(row[2]), str(row[3]), float(row[4])) if row else None


def save_pace(tx: Transaction, value: DomainPace) -> None:
    tx.execute(
        f"INSERT INTO domain_pacing ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (domain) DO UPDATE SET"
        " strikes = excluded.strikes, not_before = excluded.not_before, last_reply = excluded.last_reply,"
        " updated_at = excluded.updated_at",
        astuple(value),
    )


def forget_pace(tx: Transaction, domain: str) -> None:
    tx.execute("DELETE FROM domain_pacing WHERE domain = ?", (domain,))


async def paced_domains(store: BaseStore) -> list[str]:
    """Every domain with a pacing row (usually none; a handful when providers push back)."""
    return [str(r[0]) for r in await store._fetch("SELECT domain FROM domain_pacing")]


async def paces(store: BaseStore) -> list[DomainPace]:
    rows = await store._fetch(f"SELECT {_COLUMNS} FROM domain_pacing ORDER BY domain")
    return [DomainPace(str(r[0]), int(r[1]), float(r[2]), str(r[3]), float(r[4])) for r in rows]
