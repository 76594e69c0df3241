"""All of optin's SQL, for SQLite (aiosqlite).

One connection, serialised by a lock: SQLite has a single writer anyway, and WAL with
``synchronous=FULL`` makes a committed signup survive a crash or a power cut. A ``busy_timeout``
lets the CLI (``optin outbox``) work beside a running service.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

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
    """The writes one signup, confirmation or unsubscribe makes, committed together."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def contact_by_email(self, form_id: str, email: str) -> ContactRow | None:
        sql = f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE form_id = ? AND email = ?"
        async with self._db.execute(sql, (form_id, email)) as cur:
            row = await cur.fetchone()
        return _contact(row) if row else None

    async def contact(self, contact_id: int) -> ContactRow | None:
        async with self._db.execute(
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id = ?", (contact_id,)
        ) as cur:
            row = await cur.fetchone()
        return _contact(row) if row else None

    async def insert_contact(
        self, form_id: str, email: str, first: str | None, last: str | None, language: str, now: float
    ) -> int:
        cur = await self._db.execute(
            "INSERT INTO contacts (form_id, email, first_name, last_name, language, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (form_id, email, first, last, language, now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def refresh_pending(
        self, contact_id: int, first: str | None, last: str | None, language: str, now: float
    ) -> None:
        """A new signup for an address that is pending or had left: details as now given."""
        await self._db.execute(
            "UPDATE contacts SET first_name = ?, last_name = ?, language = ?, status = 'pending',"
            " unsubscribed_at = NULL, updated_at = ? WHERE id = ?",
            (first, last, language, now, contact_id),
        )

    async def set_status(self, contact_id: int, status: ContactStatus, now: float) -> None:
        column = {"confirmed": "confirmed_at", "unsubscribed": "unsubscribed_at"}.get(status)
        stamp = f", {column} = ?" if column else ""
        params: tuple[Any, ...] = (status, now, now, contact_id) if column else (status, now, contact_id)
        await self._db.execute(f"UPDATE contacts SET status = ?, updated_at = ?{stamp} WHERE id = ?", params)

    async def add_event(self, contact_id: int, event: ConsentEvent) -> None:
        await self._db.execute(
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

    async def add_confirmation(self, token_id: str, contact_id: int, now: float) -> None:
        await self._db.execute(
            "INSERT INTO confirmations (token_id, contact_id, created_at) VALUES (?, ?, ?)",
            (token_id, contact_id, now),
        )

    async def confirmation(self, token_id: str) -> tuple[int, float | None] | None:
        """(contact id, used_at) for a link's token id."""
        sql = "SELECT contact_id, used_at FROM confirmations WHERE token_id = ?"
        async with self._db.execute(sql, (token_id,)) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def use_confirmation(self, token_id: str, now: float) -> bool:
        """Mark a link used; False if it already was (single use)."""
        cur = await self._db.execute(
            "UPDATE confirmations SET used_at = ? WHERE token_id = ? AND used_at IS NULL", (now, token_id)
        )
        return cur.rowcount == 1

    async def enqueue(self, job: NewJob, now: float, run_at: float | None = None) -> bool:
        """Add a job unless one with the same idempotency key exists; True if added."""
        cur = await self._db.execute(
            "INSERT INTO outbox (kind, idempotency_key, payload, state, run_at, created_at, updated_at)"
            " VALUES (?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            (job.kind, job.idempotency_key, job.payload_json(), now if run_at is None else run_at, now, now),
        )
        return cur.rowcount == 1


class SqliteStore:
    """The storage optin needs, behind a narrow interface; PostgreSQL will mirror it."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        path = url.removeprefix("sqlite:///")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode = WAL",
            "synchronous = FULL",
            "foreign_keys = ON",
            "busy_timeout = 10000",
        ):
            await db.execute(f"PRAGMA {pragma}")
        schema = resources.files("service.store").joinpath("schema.sql").read_text()
        await db.executescript(schema)
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._db)
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        async with self._lock, self._db.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._lock:
            cur = await self._db.execute(sql, tuple(params))
            return cur.rowcount

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
        rows = await self._fetch(
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

    # --- small durable key/value facts (e.g. which SMTP port worked) -------------------------

    async def kv_get(self, key: str) -> str | None:
        rows = await self._fetch("SELECT value FROM kv WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def kv_set(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
