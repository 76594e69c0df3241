"""The SQL of the code flow and the reminder: confirmation codes, their tries, what a link saw.

Mixed into :class:`service.store.transaction.Transaction`, so an operation reads and writes these
in the same transaction as the rest of a signup or a confirmation.
"""

from __future__ import annotations

import json

from service.store.dialect import Connection
from service.store.records import CodeRow


def lists_of(adds_lists: str | None) -> tuple[str, ...] | None:
    return tuple(json.loads(adds_lists)) if adds_lists is not None else None


class SignupQueries:
    _db: Connection

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
