"""The store's API, the same on SQLite and PostgreSQL: reads, and writes through group commit.

A backend (service.store.sqlite, service.store.postgres) supplies four things: ``write`` (an
operation, durably committed), ``read`` (a query on a consistent connection), ``_fetch`` (one
statement's rows) and ``close``. Everything else is written once, here and in
service.store.transaction.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from service.store import migrate
from service.store.dialect import Dialect
from service.store.records import ConnectorHealth, ConsentEvent, ContactRow, Job, JobState
from service.store.transaction import (
    _CONTACT_COLUMNS,
    _HEALTH_COLUMNS,
    _JOB_COLUMNS,
    Transaction,
    _chunks,
    _contact,
    _job,
)

T = TypeVar("T")


class BaseStore(ABC):
    """The storage optin needs, behind a narrow interface."""

    dialect: Dialect
    url: str

    @abstractmethod
    async def write(self, operation: Callable[[Transaction], T]) -> T:
        """Run ``operation`` atomically; returns once it is durably committed."""

    @abstractmethod
    async def read(self, query: Callable[[Transaction], T]) -> T:
        """Run a read-only ``query`` (each statement sees committed data)."""

    @abstractmethod
    async def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    async def check_ready(self) -> str | None:
        """None when the database takes a write and its schema is the one we run on; else why not."""
        now = time.time()

        def probe(tx: Transaction) -> int:
            tx.execute(
                "INSERT INTO kv (key, value) VALUES ('readyz', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(now),),
            )
            return tx.schema_version()

        found, expected = await self.write(probe), migrate.latest(self.dialect.name)
        if found != expected:
            return f"the database schema is at version {found}, this optin runs on version {expected}"
        return None

    @abstractmethod
    def listen_for_jobs(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` when another instance queues a job (instances that share a database)."""

    async def release_jobs(self, job_ids: Iterable[int]) -> None:
        """Give back the leases of jobs this instance stops running (a drain): others take them now."""
        ids = list(job_ids)
        if ids:
            await self._write(
                f"UPDATE outbox SET locked_until = NULL WHERE state = 'pending' AND id IN ({', '.join('?' * len(ids))})",
                ids,
            )

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
            f" AND (locked_until IS NULL OR locked_until < ?){kind_filter} ORDER BY run_at, id LIMIT ?{self.dialect.skip_locked})"
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
        await self.write(lambda tx: tx.finish_job(job_id, now, note))

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
        """Jobs in every state, finished ones included (the CLI's summary; reads the whole outbox)."""
        rows = await self._fetch("SELECT state, count(*) FROM outbox GROUP BY state")
        return {state: count for state, count in rows}

    async def outbox_waiting(self) -> dict[str, int]:
        """Pending and dead jobs, counted through the index: cheap however long the history is."""
        counts = {}
        for state in ("pending", "dead"):
            [(count,)] = await self._fetch("SELECT count(*) FROM outbox WHERE state = ?", (state,))
            counts[state] = int(count)
        return counts

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
            " AND (locked_until IS NULL OR locked_until < ?) AND kind = ? AND connector = ?"
            f" ORDER BY run_at, id LIMIT ?{self.dialect.skip_locked}) RETURNING {_JOB_COLUMNS}",
            [now + lease, now, now, now, kind, connector, limit],
        )
        return sorted((_job(r) for r in rows), key=lambda j: (j.run_at, j.id))

    async def defer_job(self, job_id: int, run_at: float, now: float) -> None:
        """Release a claimed job that was not attempted (its connector is paused): no attempt used."""
        await self._write(
            "UPDATE outbox SET run_at = ?, locked_until = NULL,"
            " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
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
            "SELECT connector, state, count(*) FROM outbox"
            " WHERE connector IS NOT NULL AND kind LIKE 'connector_%' GROUP BY connector, state"
        )
        counts: dict[str, dict[str, int]] = {}
        for connector, state, count in rows:
            counts.setdefault(str(connector), {})[state] = count
        return counts
