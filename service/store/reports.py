"""The cockpit's aggregates: activity per day, the confirmation funnel, the outbox's depth.

Every query reads a time range through an index (migration 0007): counting a day's signups,
confirmations or unsubscribes touches only that range of the index, never the table, so the
pages stay quick on a million contacts. On SQLite the reports read on a connection and thread
of their own (WAL lets a reader run beside the writer), so a long report never holds up a
signup waiting for the single writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from service.store.base import BaseStore
from service.store.records import Job
from service.store.transaction import _JOB_COLUMNS, _job

T = TypeVar("T")
DAY = 86_400


class Reader(Protocol):
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...


@dataclass(frozen=True)
class DayCounts:
    day: int  # days since 1970-01-01 (UTC)
    form_id: str
    signups: int = 0
    confirmations: int = 0
    unsubscribes: int = 0


@dataclass(frozen=True)
class FunnelRow:
    """What became of the contacts who signed up in a period, for one form and one domain."""

    form_id: str
    domain: str
    accepted: int
    emailed: int  # the relay took the confirmation email (the ledger's confirmation_email_sent)
    opened: int  # someone or something fetched a link
    by_person: int  # a person pressed the page's button
    scanner_only: int  # only scanners were seen at the links
    confirmed: int
    delivered: int  # the list connector's upsert is done


@dataclass(frozen=True)
class OutboxDepth:
    pending: int
    dead: int
    oldest_due_at: float | None  # run_at of the oldest job that is due and waiting


def _daily(db: Reader, since: float, until: float, form_id: str | None) -> list[DayCounts]:
    found: dict[tuple[int, str], dict[str, int]] = {}
    for column, name in (
        ("created_at", "signups"),
        ("confirmed_at", "confirmations"),
        ("unsubscribed_at", "unsubscribes"),
    ):
        where = f"{column} >= ? AND {column} < ?" + (" AND form_id = ?" if form_id else "")
        params: tuple[Any, ...] = (since, until, form_id) if form_id else (since, until)
        rows = db.execute(
            f"SELECT CAST({column} AS BIGINT) / {DAY}, form_id, count(*) FROM contacts WHERE {where}"
            " GROUP BY 1, 2",
            params,
        ).fetchall()
        for day, form, count in rows:
            found.setdefault((int(day), str(form)), {})[name] = int(count)
    return [DayCounts(day, form, **counts) for (day, form), counts in sorted(found.items())]


def _cohort(db: Reader, since: float, until: float) -> dict[str, tuple[int, int]]:
    rows = db.execute(
        "SELECT form_id, count(*), count(confirmed_at) FROM contacts WHERE created_at >= ? AND created_at < ?"
        " GROUP BY form_id",
        (since, until),
    ).fetchall()
    return {str(form): (int(total), int(confirmed)) for form, total, confirmed in rows}


def _median_confirm(db: Reader, since: float, until: float, form_id: str | None) -> float | None:
    where = "confirmed_at >= ? AND confirmed_at < ?" + (" AND form_id = ?" if form_id else "")
    params: tuple[Any, ...] = (since, until, form_id) if form_id else (since, until)
    (count,) = db.execute(f"SELECT count(*) FROM contacts WHERE {where}", params).fetchone()
    if not count:
        return None
    # Two middle values for an even count; LIMIT/OFFSET is the median both databases can do.
    rows = db.execute(
        f"SELECT confirmed_at - created_at FROM contacts WHERE {where} ORDER BY 1 LIMIT ? OFFSET ?",
        (*params, 2 - count % 2, (count - 1) // 2),
    ).fetchall()
    return max(0.0, sum(float(r[0]) for r in rows) / len(rows))


def _funnel(db: Reader, since: float, until: float) -> list[FunnelRow]:
    # Each contact row says how far it went (migration 0007, kept by the store's writes): one
    # index-only pass over the period.
    rows = db.execute(
        "SELECT form_id, email_domain, count(*), count(emailed_at), count(link_seen),"
        " sum(CASE WHEN link_seen = 3 THEN 1 ELSE 0 END), sum(CASE WHEN link_seen = 2 THEN 1 ELSE 0 END),"
        " count(confirmed_at), count(delivered_at)"
        " FROM contacts WHERE created_at >= ? AND created_at < ? GROUP BY form_id, email_domain",
        (since, until),
    ).fetchall()
    return [FunnelRow(str(r[0]), str(r[1] or ""), *(int(v or 0) for v in r[2:])) for r in rows]


def _depth(db: Reader, now: float) -> OutboxDepth:
    (pending,) = db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
    (dead,) = db.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()
    (oldest,) = db.execute(
        "SELECT min(run_at) FROM outbox WHERE state = 'pending' AND run_at <= ?", (now,)
    ).fetchone()
    return OutboxDepth(int(pending), int(dead), float(oldest) if oldest is not None else None)


def _jobs(
    db: Reader, state: str, kind: str | None, connector: str | None, offset: int, limit: int
) -> list[Job]:
    where, params = "state = ?", [state]
    if kind:
        where, params = where + " AND kind = ?", [*params, kind]
    if connector:
        where, params = where + " AND connector = ?", [*params, connector]
    # The due index (state, run_at) gives the order: next due first, or the latest dead first.
    order = "run_at, id" if state == "pending" else "run_at DESC, id DESC"
    rows = db.execute(
        f"SELECT {_JOB_COLUMNS} FROM outbox WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ).fetchall()
    return [_job(r) for r in rows]


def _contact_jobs(db: Reader, contact_ids: Sequence[int]) -> list[Job]:
    if not contact_ids:
        return []
    rows = db.execute(
        f"SELECT {_JOB_COLUMNS} FROM outbox WHERE contact_id IN ({', '.join('?' * len(contact_ids))})"
        " ORDER BY id",
        tuple(contact_ids),
    ).fetchall()
    return [_job(r) for r in rows]


class _SqliteReader:
    """A read-only connection on its own thread, beside the store's writer (WAL)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optin-reports")
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
            self._db.execute("PRAGMA query_only = ON")
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA cache_size = -65536")  # 64 MiB: a report walks several indexes
        return self._db

    async def run(self, query: Callable[[Reader], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: query(self._connection()))

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)


class Reports:
    """The cockpit's queries, on the store's database."""

    def __init__(self, store: BaseStore) -> None:
        self.store = store
        path = store.url.removeprefix("sqlite:///")
        own = store.dialect.name == "sqlite" and path != ":memory:"
        self._sqlite = _SqliteReader(path) if own else None

    async def _run(self, query: Callable[[Reader], T]) -> T:
        if self._sqlite is not None:
            return await self._sqlite.run(query)
        return await self.store.read(query)

    async def aclose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.aclose()

    async def daily(self, since: float, until: float, form_id: str | None = None) -> list[DayCounts]:
        """Signups (new contacts), confirmations and unsubscribes per UTC day and form."""
        return await self._run(lambda db: _daily(db, since, until, form_id))

    async def cohort(self, since: float, until: float) -> dict[str, tuple[int, int]]:
        """Per form: contacts who signed up in the period, and how many of them have confirmed."""
        return await self._run(lambda db: _cohort(db, since, until))

    async def median_confirm_seconds(
        self, since: float, until: float, form_id: str | None = None
    ) -> float | None:
        """The median time from signup to confirmation of the contacts confirmed in the period."""
        return await self._run(lambda db: _median_confirm(db, since, until, form_id))

    async def funnel(self, since: float, until: float) -> list[FunnelRow]:
        """The cohort who signed up in the period, stage by stage, per form and recipient domain."""
        return await self._run(lambda db: _funnel(db, since, until))

    async def outbox_depth(self, now: float) -> OutboxDepth:
        return await self._run(lambda db: _depth(db, now))

    async def jobs(
        self,
        state: str,
        kind: str | None = None,
        connector: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[Job]:
        return await self._run(lambda db: _jobs(db, state, kind, connector, offset, limit))

    async def contact_jobs(self, contact_ids: Sequence[int]) -> list[Job]:
        ids = list(contact_ids)
        return await self._run(lambda db: _contact_jobs(db, ids))
