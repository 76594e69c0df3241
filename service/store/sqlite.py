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
from dataclasses import astuple, dataclass
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


_HEALTH_COLUMNS = (
    "connector, last_success_at, last_success, last_failure_at, last_failure, failing_since,"
    " consecutive_failures, dead_letters, paused_until, last_alert_at, updated_at"
)
# Connector jobs carry their connector's name in the payload; the outbox is keyed by job, not by it.
_CONNECTOR_OF = "json_extract(payload, '$.connector')"


@dataclass
class ConnectorHealth:
    """One row of ``connector_health``; the rules that change it live in service.connectors.status."""

    connector: str
    last_success_at: float | None = None
    last_success: str | None = None
    last_failure_at: float | None = None
    last_failure: str | None = None
    failing_since: float | None = None
    consecutive_failures: int = 0
    dead_letters: int = 0
    paused_until: float | None = None
    last_alert_at: float | None = None
    updated_at: float = 0.0


def _chunks(values: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


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

    def count_hits(self, key: str, since: float) -> tuple[int, float | None]:
        """How many hits ``key`` had since ``since``, and when the oldest of them was."""
        row = self._db.execute(
            "SELECT count(*), min(at) FROM rate_hits WHERE key = ? AND at > ?", (key, since)
        ).fetchone()
        return int(row[0]), row[1]

    def add_hit(self, key: str, now: float) -> None:
        self._db.execute("INSERT INTO rate_hits (key, at) VALUES (?, ?)", (key, now))

    def count_buckets(self, key: str, first_bucket: int) -> tuple[int, int | None]:
        """Hits of ``key`` in buckets from ``first_bucket`` on, and the oldest such bucket."""
        row = self._db.execute(
            "SELECT coalesce(sum(count), 0), min(bucket) FROM rate_buckets WHERE key = ? AND bucket >= ?",
            (key, first_bucket),
        ).fetchone()
        return int(row[0]), row[1]

    def add_to_bucket(self, key: str, bucket: int) -> None:
        self._db.execute(
            "INSERT INTO rate_buckets (key, bucket, count) VALUES (?, ?, 1)"
            " ON CONFLICT (key, bucket) DO UPDATE SET count = count + 1",
            (key, bucket),
        )

    def add_link_event(
        self,
        token_id: str,
        now: float,
        method: str,
        outcome: str,
        ip: str | None,
        user_agent: str | None,
        seconds_since_page: float | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO link_events (token_id, at, method, outcome, ip, user_agent, seconds_since_page)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token_id, now, method, outcome, ip, user_agent, seconds_since_page),
        )

    def erase(self, email: str, address_hash: str, now: float) -> int:
        """Delete every trace of ``email`` but a keyed hash; its waiting jobs are dropped."""
        ids = [r[0] for r in self._db.execute("SELECT id FROM contacts WHERE email = ?", (email,)).fetchall()]
        for contact_id in ids:
            tokens = [
                r[0]
                for r in self._db.execute(
                    "SELECT token_id FROM confirmations WHERE contact_id = ?", (contact_id,)
                )
            ]
            for token_id in tokens:
                self._db.execute("DELETE FROM link_events WHERE token_id = ?", (token_id,))
            self._db.execute("DELETE FROM confirmations WHERE contact_id = ?", (contact_id,))
            self._db.execute("DELETE FROM consent_events WHERE contact_id = ?", (contact_id,))
            self._db.execute(
                "UPDATE outbox SET state = 'dropped', payload = '{}', last_error = 'contact erased', updated_at = ?"
                " WHERE state = 'pending' AND json_extract(payload, '$.contact_id') = ?",
                (now, contact_id),
            )
            self._db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
        self._db.execute(
            "INSERT INTO erasures (address_hash, erased_at) VALUES (?, ?)"
            " ON CONFLICT (address_hash) DO UPDATE SET erased_at = excluded.erased_at",
            (address_hash, now),
        )
        return len(ids)

    def erased_at(self, address_hash: str) -> float | None:
        row = self._db.execute(
            "SELECT erased_at FROM erasures WHERE address_hash = ?", (address_hash,)
        ).fetchone()
        return float(row[0]) if row else None

    def purge_unconfirmed(self, before: float) -> int:
        """Retention: pending contacts created before ``before`` go, with their personal data."""
        ids = [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM contacts WHERE status = 'pending' AND created_at < ?", (before,)
            ).fetchall()
        ]
        for contact_id in ids:
            self._db.execute(
                "DELETE FROM link_events WHERE token_id IN (SELECT token_id FROM confirmations WHERE contact_id = ?)",
                (contact_id,),
            )
            self._db.execute("DELETE FROM confirmations WHERE contact_id = ?", (contact_id,))
            self._db.execute("DELETE FROM consent_events WHERE contact_id = ?", (contact_id,))
            self._db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
        return len(ids)

    def purge_counters(self, now: float, keep_seconds: float) -> None:
        self._db.execute("DELETE FROM rate_hits WHERE at < ?", (now - keep_seconds,))
        self._db.execute("DELETE FROM rate_buckets WHERE bucket < ?", (int((now - keep_seconds) // 60),))
        self._db.execute("DELETE FROM once_keys WHERE expires_at < ?", (now,))

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

    # --- connector health (read-modify-write inside one operation, so instances agree) -----

    def connector_health(self, connector: str) -> ConnectorHealth | None:
        row = self._db.execute(
            f"SELECT {_HEALTH_COLUMNS} FROM connector_health WHERE connector = ?", (connector,)
        ).fetchone()
        return ConnectorHealth(*row) if row else None

    def save_connector_health(self, health: ConnectorHealth) -> None:
        values = astuple(health)
        updates = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _HEALTH_COLUMNS.split(",")[1:])
        self._db.execute(
            f"INSERT INTO connector_health ({_HEALTH_COLUMNS}) VALUES ({', '.join('?' * len(values))})"
            f" ON CONFLICT (connector) DO UPDATE SET {updates}",
            values,
        )

    def hold_connector_jobs(self, connector: str, kinds: Iterable[str], until: float, now: float) -> int:
        """Push every waiting, unleased job of ``connector`` due before ``until`` back to ``until``."""
        kind_list = list(kinds)
        cur = self._db.execute(
            "UPDATE outbox SET run_at = ?, updated_at = ? WHERE state = 'pending' AND run_at < ?"
            f" AND (locked_until IS NULL OR locked_until < ?) AND kind IN ({', '.join('?' * len(kind_list))})"
            f" AND {_CONNECTOR_OF} = ?",
            (until, now, until, now, *kind_list, connector),
        )
        return cur.rowcount


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
