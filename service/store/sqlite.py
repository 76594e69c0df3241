"""The SQLite store: one connection on its own thread, group-committed writes.

Writes are *group-committed*: every operation that arrives while a commit is under way joins
the next batch, which runs in one hop to that thread, each operation inside its own savepoint,
and ends in one COMMIT. A caller is answered only after the COMMIT, and WAL with
``synchronous=FULL`` makes that commit survive a crash or a power cut; one fsync serves the whole
batch. A ``busy_timeout`` lets the CLI (``optin outbox``) work beside a running service. The SQL
of single operations is in service.store.transaction; what follows reads and writes outside them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from service.store.records import ConnectorHealth, ConsentEvent, ContactRow, Job, JobState
from service.store.transaction import (
    _CONNECTOR_OF,
    _CONTACT_COLUMNS,
    _HEALTH_COLUMNS,
    _JOB_COLUMNS,
    Transaction,
    _chunks,
    _contact,
    _job,
)

T = TypeVar("T")
Operation = Callable[[Transaction], Any]


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON", "busy_timeout = 10000"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(resources.files("service.store").joinpath("schema.sql").read_text())
    return db


def _run_batch(db: sqlite3.Connection, operations: list[Operation]) -> list[tuple[bool, Any]]:
    """Run operations in one transaction; one failing rolls back only its own savepoint."""
    outcomes: list[tuple[bool, Any]] = []
    tx = Transaction(db)
    db.execute("BEGIN IMMEDIATE")
    try:
        for operation in operations:
            db.execute("SAVEPOINT op")
            try:
                outcomes.append((True, operation(tx)))
            except Exception as exc:
                db.execute("ROLLBACK TO op")
                outcomes.append((False, exc))
            db.execute("RELEASE op")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return outcomes


class SqliteStore:
    """The storage optin needs, behind a narrow interface; PostgreSQL will mirror it."""

    def __init__(self, executor: ThreadPoolExecutor, db: sqlite3.Connection) -> None:
        self._executor = executor
        self._db = db
        self._queue: list[tuple[Operation, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        path = url.removeprefix("sqlite:///")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optin-sqlite")
        db = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        return cls(executor, db)

    async def close(self) -> None:
        if self._flusher is not None:
            await self._flusher
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def read(self, query: Callable[[Transaction], T]) -> T:
        """Run a read-only ``query`` on the database thread (a consistent WAL snapshot per statement)."""
        return await self._call(lambda: query(Transaction(self._db)))

    async def write(self, operation: Callable[[Transaction], T]) -> T:
        """Run ``operation`` atomically; returns once it is durably committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((operation, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    outcomes = await self._call(_run_batch, self._db, [op for op, _ in batch])
                except Exception as exc:  # the COMMIT itself failed: nothing in the batch happened
                    outcomes = [(False, exc)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._flusher = None

    def _fetch_sync(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self._db.execute(sql, params).fetchall()

    async def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return await self._call(self._fetch_sync, sql, tuple(params))

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        values = tuple(params)
        return await self.write(lambda tx: tx.execute(sql, values).rowcount)

    async def _write_fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        values = tuple(params)
        return await self.write(lambda tx: tx.execute(sql, values).fetchall())

    # --- contacts -------------------------------------------------------------------------

    async def contact(self, contact_id: int) -> ContactRow | None:
        rows = await self._fetch(f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id = ?", (contact_id,))
        return _contact(rows[0]) if rows else None

    async def contacts(self, form_id: str | None = None) -> list[ContactRow]:
        where, params = ("WHERE form_id = ?", (form_id,)) if form_id else ("", ())
        rows = await self._fetch(f"SELECT {_CONTACT_COLUMNS} FROM contacts {where} ORDER BY id", params)
        return [_contact(r) for r in rows]

    async def contacts_with_email(self, email: str) -> list[ContactRow]:
        rows = await self._fetch(
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE email = ? ORDER BY id", (email,)
        )
        return [_contact(r) for r in rows]

    async def link_events(self, token_ids: Iterable[str]) -> list[tuple[Any, ...]]:
        ids = list(token_ids)
        if not ids:
            return []
        return await self._fetch(
            "SELECT token_id, at, method, outcome, ip, user_agent, seconds_since_page FROM link_events"
            f" WHERE token_id IN ({', '.join('?' * len(ids))}) ORDER BY id",
            ids,
        )

    async def confirmation_tokens(self, contact_id: int) -> list[str]:
        rows = await self._fetch(
            "SELECT token_id FROM confirmations WHERE contact_id = ? ORDER BY created_at", (contact_id,)
        )
        return [str(r[0]) for r in rows]

    async def events(self, contact_id: int) -> list[ConsentEvent]:
        rows = await self._fetch(
            "SELECT event, at, ip, user_agent, page_url, consent_text, detail FROM consent_events"
            " WHERE contact_id = ? ORDER BY id",
            (contact_id,),
        )
        return [ConsentEvent(*r) for r in rows]

    # --- outbox ---------------------------------------------------------------------------

    async def claim_jobs(
        self, now: float, limit: int, lease: float, kinds: Iterable[str] | None = None
    ) -> list[Job]:
        """Lease up to ``limit`` due jobs; a lease left by a killed process expires and frees them."""
        kind_list = list(kinds) if kinds is not None else []
        kind_filter = f" AND kind IN ({', '.join('?' * len(kind_list))})" if kinds is not None else ""
        rows = await self._write_fetch(
            "UPDATE outbox SET locked_until = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ("
            " SELECT id FROM outbox WHERE state = 'pending' AND run_at <= ?"
            f" AND (locked_until IS NULL OR locked_until < ?){kind_filter} ORDER BY run_at, id LIMIT ?)"
            f" RETURNING {_JOB_COLUMNS}",
            [now + lease, now, now, now, *kind_list, limit],
        )
        return sorted((_job(r) for r in rows), key=lambda j: (j.run_at, j.id))

    async def extend_leases(self, job_ids: Iterable[int], until: float) -> None:
        ids = list(job_ids)
        if ids:
            await self._write(
                f"UPDATE outbox SET locked_until = ? WHERE state = 'pending' AND id IN ({', '.join('?' * len(ids))})",
                [until, *ids],
            )

    async def finish_job(self, job_id: int, now: float, note: str | None = None) -> None:
        await self._write(
            "UPDATE outbox SET state = 'done', locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
            (note, now, job_id),
        )

    async def reschedule_job(self, job_id: int, run_at: float, error: str, now: float) -> None:
        await self._write(
            "UPDATE outbox SET run_at = ?, locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
            (run_at, error, now, job_id),
        )

    async def kill_job(self, job_id: int, error: str, now: float) -> None:
        await self._write(
            "UPDATE outbox SET state = 'dead', locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
            (error, now, job_id),
        )

    async def jobs(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        where, params = ("WHERE state = ?", [state]) if state else ("", [])
        rows = await self._fetch(
            f"SELECT {_JOB_COLUMNS} FROM outbox {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        )
        return [_job(r) for r in rows]

    async def job(self, job_id: int) -> Job | None:
        rows = await self._fetch(f"SELECT {_JOB_COLUMNS} FROM outbox WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    async def retry_job(self, job_id: int, now: float) -> bool:
        """Put a dead, dropped or waiting job back at the front of the queue."""
        return (
            await self._write(
                "UPDATE outbox SET state = 'pending', run_at = ?, locked_until = NULL, updated_at = ?"
                " WHERE id = ? AND state != 'done'",
                (now, now, job_id),
            )
            == 1
        )

    async def drop_job(self, job_id: int, now: float) -> bool:
        return (
            await self._write(
                "UPDATE outbox SET state = 'dropped', locked_until = NULL, updated_at = ?"
                " WHERE id = ? AND state IN ('pending', 'dead')",
                (now, job_id),
            )
            == 1
        )

    async def job_counts(self) -> dict[str, int]:
        rows = await self._fetch("SELECT state, count(*) FROM outbox GROUP BY state")
        return {state: count for state, count in rows}

    async def claim_once(self, key: str, ttl: float) -> bool:
        now = time.time()
        return await self.write(lambda tx: tx.claim_once(key, now + ttl, now))

    async def purge_expired(self, now: float) -> int:
        return await self._write("DELETE FROM once_keys WHERE expires_at < ?", (now,))

    # --- small durable key/value facts (e.g. which SMTP port worked) -------------------------

    async def kv_get(self, key: str) -> str | None:
        rows = await self._fetch("SELECT value FROM kv WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def kv_set(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- list connectors: batches, pauses, health ----------------------------------------------

    async def claim_connector_jobs(
        self, kind: str, connector: str, now: float, limit: int, lease: float
    ) -> list[Job]:
        """Like :meth:`claim_jobs`, for the due jobs of one kind and one connector (a batch)."""
        if limit <= 0:
            return []
        rows = await self._write_fetch(
            "UPDATE outbox SET locked_until = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ("
            " SELECT id FROM outbox WHERE state = 'pending' AND run_at <= ?"
            f" AND (locked_until IS NULL OR locked_until < ?) AND kind = ? AND {_CONNECTOR_OF} = ?"
            f" ORDER BY run_at, id LIMIT ?) RETURNING {_JOB_COLUMNS}",
            [now + lease, now, now, now, kind, connector, limit],
        )
        return sorted((_job(r) for r in rows), key=lambda j: (j.run_at, j.id))

    async def defer_job(self, job_id: int, run_at: float, now: float) -> None:
        """Release a claimed job that was not attempted (its connector is paused): no attempt used."""
        await self._write(
            "UPDATE outbox SET run_at = ?, locked_until = NULL, attempts = max(attempts - 1, 0),"
            " updated_at = ? WHERE id = ? AND state = 'pending'",
            (run_at, now, job_id),
        )

    async def contacts_by_id(self, ids: Iterable[int]) -> dict[int, ContactRow]:
        found: dict[int, ContactRow] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = await self._fetch(
                f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            found.update((row[0], _contact(row)) for row in rows)
        return found

    async def events_by_contact(self, ids: Iterable[int]) -> dict[int, list[ConsentEvent]]:
        found: dict[int, list[ConsentEvent]] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = await self._fetch(
                "SELECT contact_id, event, at, ip, user_agent, page_url, consent_text, detail"
                f" FROM consent_events WHERE contact_id IN ({', '.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            )
            for row in rows:
                found.setdefault(row[0], []).append(ConsentEvent(*row[1:]))
        return found

    async def connector_healths(self) -> list[ConnectorHealth]:
        rows = await self._fetch(f"SELECT {_HEALTH_COLUMNS} FROM connector_health ORDER BY connector")
        return [ConnectorHealth(*r) for r in rows]

    async def connector_job_counts(self) -> dict[str, dict[str, int]]:
        """connector -> {state: count} over the list jobs (upserts, unsubscribes) in the outbox."""
        rows = await self._fetch(
            f"SELECT {_CONNECTOR_OF}, state, count(*) FROM outbox"
            f" WHERE {_CONNECTOR_OF} IS NOT NULL AND kind LIKE 'connector_%' GROUP BY 1, 2"
        )
        counts: dict[str, dict[str, int]] = {}
        for connector, state, count in rows:
            counts.setdefault(str(connector), {})[state] = count
        return counts
