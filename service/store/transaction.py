"""The SQL of one operation (a signup, a confirmation, an erasure...), run inside a batch.

A :class:`Transaction` runs on a database thread, inside the savepoint of one operation (see
service.store.batch), so its methods are plain synchronous calls. The SQL is the same on SQLite
and PostgreSQL (service.store.dialect); where an operation reads, then writes what it read
(a counter, a budget), it first takes :meth:`lock` on what it counts, so that instances sharing
a PostgreSQL database decide one after the other, as SQLite's single writer always does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple
from typing import Any

from service.store.dialect import Connection, Cursor
from service.store.migrate import current_version
from service.store.pending import PendingCounts
from service.store.records import (
    LINK_RANK,
    ConnectorHealth,
    ConsentEvent,
    ContactRow,
    ContactStatus,
    Job,
    NewJob,
    link_actor,
)
from service.store.removals import RemovalQueries
from service.store.signups import INSERT_CONTACT, SignupQueries, contact_values, json_column, lists_of

_CONTACT_COLUMNS = (
    "id, form_id, email, first_name, last_name, language, status, created_at, confirmed_at, unsubscribed_at,"
    " fields, lists"
)
_JOB_COLUMNS = (
    "id, kind, idempotency_key, payload, state, attempts, run_at, last_error, created_at, updated_at"
)


def _contact(row: tuple[Any, ...]) -> ContactRow:
    contact_id, form_id, email, first, last, language, status, created, confirmed, left, fields, lists = row
    return ContactRow(
        contact_id,
        form_id,
        email,
        first,
        last,
        language,
        status,
        created,
        confirmed,
        left,
        json.loads(fields) if fields else {},
        tuple(json.loads(lists) if lists else ()),
    )


def _job(row: tuple[Any, ...]) -> Job:
    values = list(row)
    values[3] = json.loads(values[3])
    return Job(*values)


_HEALTH_COLUMNS = (
    "connector, last_success_at, last_success, last_failure_at, last_failure, failing_since,"
    " consecutive_failures, dead_letters, paused_until, last_alert_at, updated_at"
)


def _chunks(values: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Transaction(SignupQueries, RemovalQueries):
    """The reads and writes of one operation; runs on the database thread, inside a batch."""

    def __init__(self, db: Connection) -> None:
        self._db = db
        self._pending = PendingCounts()
        self._notify = False

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        return self._db.execute(sql, params)

    def schema_version(self) -> int:
        return current_version(self._db)

    def lock(self, *keys: str) -> None:
        """Hold ``keys`` until the transaction ends; always take them in the same order."""
        sql = self._db.dialect.lock
        if sql:
            for key in keys:
                self._db.execute(sql, (key,))

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
        self,
        form_id: str,
        email: str,
        first: str | None,
        last: str | None,
        language: str,
        now: float,
        fields: Mapping[str, Any] | None = None,
        lists: Sequence[str] = (),
        *,
        confirmed: bool = False,
    ) -> int:
        """A new contact (pending, or confirmed as an import may add it); a second one for the same
        form and address is a unique violation, which the batch re-runs the operation for."""
        row = self._db.execute(
            INSERT_CONTACT + " RETURNING id",
            contact_values(form_id, email, first, last, language, now, fields, lists, confirmed),
        ).fetchone()
        return int(row[0])

    def refresh_pending(
        self,
        contact_id: int,
        first: str | None,
        last: str | None,
        language: str,
        now: float,
        fields: Mapping[str, Any] | None = None,
        lists: Sequence[str] = (),
    ) -> None:
        """A new signup for an address that is pending or had left: details as now given."""
        self._db.execute(
            "UPDATE contacts SET first_name = ?, last_name = ?, language = ?, status = 'pending',"
            " unsubscribed_at = NULL, updated_at = ?, fields = ?, lists = ? WHERE id = ?",
            (first, last, language, now, json_column(fields), json_column(list(lists)), contact_id),
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
        if event.event == "confirmation_email_sent":  # the funnel's "emailed" (service.store.reports)
            self._db.execute(
                "UPDATE contacts SET emailed_at = coalesce(emailed_at, ?) WHERE id = ?",
                (event.at, contact_id),
            )

    def add_confirmation(
        self,
        token_id: str,
        contact_id: int,
        now: float,
        code_hash: str | None = None,
        adds_lists: Sequence[str] | None = None,
    ) -> None:
        """``adds_lists``: a confirmed contact's confirmation of these further lists."""
        self._db.execute(
            "INSERT INTO confirmations (token_id, contact_id, created_at, code_hash, adds_lists)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                token_id,
                contact_id,
                now,
                code_hash,
                None if adds_lists is None else json.dumps(list(adds_lists)),
            ),
        )

    def confirmation(self, token_id: str) -> tuple[int, float | None, tuple[str, ...] | None] | None:
        """(contact id, used_at, the lists it adds or None) for a link's token id."""
        sql = "SELECT contact_id, used_at, adds_lists FROM confirmations WHERE token_id = ?"
        row = self._db.execute(sql, (token_id,)).fetchone()
        return (row[0], row[1], lists_of(row[2])) if row else None

    def set_lists(self, contact_id: int, lists: Sequence[str], now: float) -> None:
        self._db.execute(
            "UPDATE contacts SET lists = ?, updated_at = ? WHERE id = ?",
            (json_column(list(lists)), now, contact_id),
        )

    def use_confirmation(self, token_id: str, now: float) -> bool:
        """Mark a link used; False if it already was (single use)."""
        cur = self._db.execute(
            "UPDATE confirmations SET used_at = ? WHERE token_id = ? AND used_at IS NULL", (now, token_id)
        )
        return cur.rowcount == 1

    def hit_windows(self, key: str, sinces: tuple[float, ...]) -> list[tuple[int, float | None]]:
        """For each window start: how many hits ``key`` had since then, and the oldest of them
        (one query for every window; hits this batch has not written yet included)."""
        earliest = min(sinces)
        columns = ", ".join("count(*) FILTER (WHERE at > ?), min(at) FILTER (WHERE at > ?)" for _ in sinces)
        row = self._db.execute(
            f"SELECT {columns} FROM rate_hits WHERE key = ? AND at > ?",
            (*(v for since in sinces for v in (since, since)), key, earliest),
        ).fetchone()
        found = []
        for i, since in enumerate(sinces):
            count, oldest = int(row[2 * i]), row[2 * i + 1]
            pending = self._pending.hits_since(key, since)
            if pending:
                count += len(pending)
                oldest = min([*pending, *([oldest] if oldest is not None else [])])
            found.append((count, oldest))
        return found

    def add_hit(self, key: str, now: float) -> None:
        """Counted at once by this batch, written with the batch (see :meth:`flush`)."""
        self._pending.add_hit(key, now)

    def count_buckets(self, key: str, first_bucket: int) -> tuple[int, int | None]:
        """Hits of ``key`` in buckets from ``first_bucket`` on, and the oldest such bucket."""
        return self.count_buckets_of([key], first_bucket)[key]

    def count_buckets_of(self, keys: list[str], first_bucket: int) -> dict[str, tuple[int, int | None]]:
        """:meth:`count_buckets` for several keys in one query (a signup counts its form, its
        address and its network); hits this batch has not written yet included."""
        found: dict[str, tuple[int, int | None]] = {key: (0, None) for key in keys}
        for key, count, oldest in self._db.execute(
            "SELECT key, sum(count), min(bucket) FROM rate_buckets"
            f" WHERE key IN ({', '.join('?' * len(keys))}) AND bucket >= ? GROUP BY key",
            (*keys, first_bucket),
        ).fetchall():
            found[key] = (int(count), oldest)
        for key in found:  # each key once, however often it was named
            pending = self._pending.in_buckets(key, first_bucket)
            if pending is not None:
                (count, oldest), (more, first) = found[key], pending
                found[key] = (count + more, first if oldest is None else min(oldest, first))
        return found

    def add_to_bucket(self, key: str, bucket: int, amount: int = 1) -> None:
        """Counted at once by this batch, written with the batch (see :meth:`flush`); a negative
        ``amount`` gives counts back."""
        self._pending.add_to_bucket(key, bucket, amount)

    # --- what the batch writes once, just before its COMMIT -----------------------------------

    def mark(self) -> tuple[tuple[int, int], bool]:
        return self._pending.mark(), self._notify

    def rollback_to(self, mark: tuple[tuple[int, int], bool]) -> None:
        """An operation failed: forget the counts it added, as its savepoint forgets its rows."""
        self._pending.rollback_to(mark[0])
        self._notify = mark[1]

    def flush(self) -> None:
        """Write the batch's counters in one statement each, and tell other instances' workers
        about new jobs once. Done last, so the shared counter rows (every signup of a form adds
        to the same one) are locked only for the moment of the COMMIT."""
        if changed := self._pending.increments():
            # In one sorted order in every batch: two batches' flushes never wait on each other
            # in a cycle. A count given back lowers a row counted by an earlier batch.
            self._db.executemany(
                "INSERT INTO rate_buckets (key, bucket, count) VALUES (?, ?, ?)"
                " ON CONFLICT (key, bucket) DO UPDATE SET count = rate_buckets.count + excluded.count",
                changed,
            )
        if self._pending.hits:
            self._db.executemany("INSERT INTO rate_hits (key, at) VALUES (?, ?)", self._pending.hits)
        if self._notify and self._db.dialect.notify:
            self._db.execute(self._db.dialect.notify)
        self._pending = PendingCounts()
        self._notify = False

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
        rank = LINK_RANK[link_actor(method, outcome)]  # the funnel's "opened, and by whom"
        self._db.execute(
            "UPDATE contacts SET link_seen = CASE WHEN link_seen IS NULL OR link_seen < ? THEN ? ELSE link_seen END"
            " WHERE id = (SELECT contact_id FROM confirmations WHERE token_id = ?)",
            (rank, rank, token_id),
        )

    def claim_once(self, key: str, expires_at: float, now: float) -> bool:
        """True the first time ``key`` is claimed (until it expires); False on every replay."""
        self._db.execute("DELETE FROM once_keys WHERE key = ? AND expires_at < ?", (key, now))
        cur = self._db.execute(
            "INSERT INTO once_keys (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (key, expires_at),
        )
        return cur.rowcount == 1

    def finish_job(self, job_id: int, now: float, note: str | None = None) -> None:
        self._db.execute(
            "UPDATE outbox SET state = 'done', locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
            (note, now, job_id),
        )
        # The funnel's "on the list" (service.store.reports).
        self._db.execute(
            "UPDATE contacts SET delivered_at = coalesce(delivered_at, ?)"
            " WHERE id = (SELECT contact_id FROM outbox WHERE id = ? AND kind = 'connector_upsert')",
            (now, job_id),
        )

    def enqueue(self, job: NewJob, now: float, run_at: float | None = None) -> bool:
        """Add a job unless one with the same idempotency key exists; True if added."""
        contact_id, connector = job.payload.get("contact_id"), job.payload.get("connector")
        cur = self._db.execute(
            "INSERT INTO outbox (kind, idempotency_key, payload, state, run_at, created_at, updated_at,"
            " contact_id, connector) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            (
                job.kind,
                job.idempotency_key,
                job.payload_json(),
                now if run_at is None else run_at,
                now,
                now,
                int(contact_id) if isinstance(contact_id, int) else None,
                str(connector) if isinstance(connector, str) else None,
            ),
        )
        self._notify = self._notify or cur.rowcount == 1
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
            " AND connector = ?",
            (until, now, until, now, *kind_list, connector),
        )
        return cur.rowcount
