"""All of optin's SQL, for SQLite.

One connection lives on one thread of its own. Writes are *group-committed*: every operation
that arrives while a commit is under way joins the next batch, which runs in one hop to that
thread, each operation inside its own savepoint, and ends in one COMMIT. A caller is answered
only after the COMMIT, and WAL with ``synchronous=FULL`` makes that commit survive a crash or
a power cut; one fsync serves the whole batch. A ``busy_timeout`` lets the CLI
(``optin outbox``) work beside a running service.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from service.store.records import ConsentEvent, ContactRow, ContactStatus, Job, JobState, NewJob

_CONTACT_COLUMNS = (
    "id, form_id, email, first_name, last_name, language, status, created_at, confirmed_at, unsubscribed_at"
)
_JOB_COLUMNS = (
    "id, kind, idempotency_key, payload, state, attempts, run_at, last_error, created_at, updated_at"
)


def _contact(row: sqlite3.Row | tuple[Any, ...]) -> ContactRow:
    return ContactRow(*row)


def _job(row: sqlite3.Row | tuple[Any, ...]) -> Job:
    values = list(row)
    values[3] = json.loads(values[3])
    return Job(*values)


class Transaction:
    """The reads and writes of one operation; runs on the database thread, inside a batch."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def contact_by_email(self, form_id: str, email: str) -> ContactRow | None:
        sql = f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE form_id = ? AND email = ?"
        row = self._db.execute(sql, (form_id, email)).fetchone()
        return _contact(row) if row else None

    def contact(self, contact_id: int) -> ContactRow | None:
        row = self._db.execute(
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id = ?", (contact_id,)
        ).fetchone()
        return _contact(row) if row else None

    def insert_contact(
        self, form_id: str, email: str, first: str | None, last: str | None, language: str, now: float
    ) -> int:
        cur = self._db.execute(
            "INSERT INTO contacts (form_id, email, first_name, last_name, language, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (form_id, email, first, last, language, now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def refresh_pending(
        self, contact_id: int, first: str | None, last: str | None, language: str, now: float
    ) -> None:
        """A new signup for an address that is pending or had left: details as now given."""
        self._db.execute(
            "UPDATE contacts SET first_name = ?, last_name = ?, language = ?, status = 'pending',"
            " unsubscribed_at = NULL, updated_at = ? WHERE id = ?",
            (first, last, language, now, contact_id),
        )

    def set_status(self, contact_id: int, status: ContactStatus, now: float) -> None:
        column = {"confirmed": "confirmed_at", "unsubscribed": "unsubscribed_at"}.get(status)
        stamp = f", {column} = ?" if column else ""
        params: tuple[Any, ...] = (status, now, now, contact_id) if column else (status, now, contact_id)
        self._db.execute(f"UPDATE contacts SET status = ?, updated_at = ?{stamp} WHERE id = ?", params)

    def add_event(self, contact_id: int, event: ConsentEvent) -> None:
        self._db.execute(
            "INSERT INTO consent_events (contact_id, event, at, ip, user_agent, page_url, consent_text, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                contact_id,
                event.event,
                event.at,
                event.ip,
                event.user_agent,
                event.page_url,
                event.consent_text,
                event.detail,
            ),
        )

    def add_confirmation(self, token_id: str, contact_id: int, now: float) -> None:
        self._db.execute(
            "INSERT INTO confirmations (token_id, contact_id, created_at) VALUES (?, ?, ?)",
            (token_id, contact_id, now),
        )

    def confirmation(self, token_id: str) -> tuple[int, float | None] | None:
        """(contact id, used_at) for a link's token id."""
        sql = "SELECT contact_id, used_at FROM confirmations WHERE token_id = ?"
        row = self._db.execute(sql, (token_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def use_confirmation(self, token_id: str, now: float) -> bool:
        """Mark a link used; False if it already was (single use)."""
        cur = self._db.execute(
            "UPDATE confirmations SET used_at = ? WHERE token_id = ? AND used_at IS NULL", (now, token_id)
        )
        return cur.rowcount == 1

    def claim_once(self, key: str, expires_at: float, now: float) -> bool:
        """True the first time ``key`` is claimed (until it expires); False on every replay."""
        self._db.execute("DELETE FROM once_keys WHERE key = ? AND expires_at < ?", (key, now))
        cur = self._db.execute(
            "INSERT INTO once_keys (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (key, expires_at),
        )
        return cur.rowcount == 1

    def enqueue(self, job: NewJob, now: float, run_at: float | None = None) -> bool:
        """Add a job unless one with the same idempotency key exists; True if added."""
        cur = self._db.execute(
            "INSERT INTO outbox (kind, idempotency_key, payload, state, run_at, created_at, updated_at)"
            " VALUES (?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            (job.kind, job.idempotency_key, job.payload_json(), now if run_at is None else run_at, now, now),
        )
        return cur.rowcount == 1


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
