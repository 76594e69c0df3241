"""The SQL of a signup, the code flow and the reminder: a new contact and its rows, confirmation
codes, their tries, what a link saw.

Mixed into :class:`service.store.transaction.Transaction`, so an operation reads and writes these
in the same transaction as the rest of a signup or a confirmation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from service.store.dialect import Connection
from service.store.records import CodeRow, ConsentEvent, NewJob


def json_column(value: Any) -> str | None:
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value else None


def lists_of(adds_lists: str | None) -> tuple[str, ...] | None:
    return tuple(json.loads(adds_lists)) if adds_lists is not None else None


# Every new contact, whichever way it came (a signup, an import): one column list, one derivation.
INSERT_CONTACT = (
    "INSERT INTO contacts (form_id, email, first_name, last_name, language, status, created_at,"
    " updated_at, confirmed_at, fields, lists, email_domain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def contact_values(
    form_id: str,
    email: str,
    first: str | None,
    last: str | None,
    language: str,
    now: float,
    fields: Mapping[str, Any] | None,
    lists: Sequence[str],
    confirmed: bool = False,
) -> tuple[Any, ...]:
    return (form_id, email, first, last, language, "confirmed" if confirmed else "pending", now, now,
            now if confirmed else None, json_column(fields), json_column(list(lists)),
            email.rpartition("@")[2].lower())  # fmt: skip


# A signup's three rows in one statement, on PostgreSQL: one round trip instead of three.
_SIGNUP_ROWS = (
    "WITH event AS (INSERT INTO consent_events (contact_id, event, at, ip, user_agent, page_url, consent_text,"
    " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)),"
    " confirmation AS (INSERT INTO confirmations (token_id, contact_id, created_at, code_hash)"
    " VALUES (?, ?, ?, ?))"
    " INSERT INTO outbox (kind, idempotency_key, payload, state, run_at, created_at, updated_at, contact_id)"
    " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)


class SignupQueries:
    _db: Connection
    _notify: bool

    if TYPE_CHECKING:  # from service.store.transaction.Transaction

        def add_event(self, contact_id: int, event: ConsentEvent) -> None: ...

        def add_confirmation(
            self,
            token_id: str,
            contact_id: int,
            now: float,
            code_hash: str | None = None,
            adds_lists: Sequence[str] | None = None,
        ) -> None: ...

        def enqueue(self, job: NewJob, now: float, run_at: float | None = None) -> bool: ...

    def insert_contact_if_new(
        self,
        form_id: str,
        email: str,
        first: str | None,
        last: str | None,
        language: str,
        now: float,
        fields: Mapping[str, Any] | None = None,
        lists: Sequence[str] = (),
    ) -> int | None:
        """The new contact's id, or None when the form has this address already (then nothing is
        written): one statement for a new signup, where a look-up first would be two."""
        row = self._db.execute(
            INSERT_CONTACT + " ON CONFLICT (form_id, email) DO NOTHING RETURNING id",
            contact_values(form_id, email, first, last, language, now, fields, lists),
        ).fetchone()
        return int(row[0]) if row else None

    def add_signup(
        self, contact_id: int, event: ConsentEvent, token_id: str, code_hash: str | None, job: NewJob
    ) -> None:
        """A signup's ledger line, its confirmation and the job that emails it (queued now)."""
        if not self._db.dialect.joins_statements:  # SQLite: no round trips to save
            self.add_event(contact_id, event)
            self.add_confirmation(token_id, contact_id, event.at, code_hash)
            self.enqueue(job, event.at)
            return
        e, now = event, event.at
        cur = self._db.execute(
            _SIGNUP_ROWS,
            (contact_id, e.event, now, e.ip, e.user_agent, e.page_url, e.consent_text, e.detail,
             token_id, contact_id, now, code_hash,
             job.kind, job.idempotency_key, job.payload_json(), now, now, now, contact_id),
        )  # fmt: skip
        self._notify = self._notify or cur.rowcount == 1

    def code_row(self, token_id: str) -> CodeRow | None:
        row = self._db.execute(
            "SELECT token_id, contact_id, created_at, used_at, code_hash, code_attempts, adds_lists"
            " FROM confirmations WHERE token_id = ?",
            (token_id,),
        ).fetchone()
        if row is None:
            return None
        token, contact_id, created_at, used_at, code_hash, attempts, adds = row
        return CodeRow(token, contact_id, created_at, used_at, code_hash, attempts, lists_of(adds))

    def count_code_miss(self, token_id: str) -> int:
        """One more wrong code for this confirmation; the tries so far."""
        row = self._db.execute(
            "UPDATE confirmations SET code_attempts = code_attempts + 1 WHERE token_id = ? RETURNING code_attempts",
            (token_id,),
        ).fetchone()
        return int(row[0]) if row else 0

    def newer_email(self, contact_id: int, since: float) -> bool:
        """Whether the contact was sent a confirmation after ``since`` (a later one supersedes)."""
        row = self._db.execute(
            "SELECT count(*) FROM confirmations WHERE contact_id = ? AND created_at > ?", (contact_id, since)
        ).fetchone()
        return int(row[0]) > 0

    def link_opened(self, token_id: str) -> bool:
        """Whether anything but a HEAD request (only ever a scanner) reached this link."""
        row = self._db.execute(
            "SELECT count(*) FROM link_events WHERE token_id = ? AND method != 'HEAD'", (token_id,)
        ).fetchone()
        return int(row[0]) > 0

    def has_event(self, contact_id: int, event: str) -> bool:
        row = self._db.execute(
            "SELECT count(*) FROM consent_events WHERE contact_id = ? AND event = ?", (contact_id, event)
        ).fetchone()
        return int(row[0]) > 0
