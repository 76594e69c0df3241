"""The SQL that removes people and history: erasure on request, and housekeeping's purges of
never-confirmed contacts, finished jobs and expired counters, a bounded round at a time.

Mixed into :class:`service.store.transaction.Transaction`, like the signup queries.
"""

from __future__ import annotations

from service.store.dialect import Connection


class RemovalQueries:
    _db: Connection

    def erase(self, email: str, address_hash: str, now: float) -> int:
        """Delete every trace of ``email`` but a keyed hash; its waiting jobs are dropped."""
        ids = [r[0] for r in self._db.execute("SELECT id FROM contacts WHERE email = ?", (email,)).fetchall()]
        for contact_id in ids:
            self._db.execute(
                "DELETE FROM link_events WHERE token_id IN (SELECT token_id FROM confirmations WHERE contact_id = ?)",
                (contact_id,),
            )
            self._db.execute("DELETE FROM confirmations WHERE contact_id = ?", (contact_id,))
            self._db.execute("DELETE FROM consent_events WHERE contact_id = ?", (contact_id,))
            self._db.execute(
                "UPDATE outbox SET state = 'dropped', payload = '{}', last_error = 'contact erased', updated_at = ?"
                " WHERE state = 'pending' AND contact_id = ?",
                (now, contact_id),
            )
            self._db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
        self._db.execute(
            "INSERT INTO erasures (address_hash, erased_at) VALUES (?, ?)"
            " ON CONFLICT (address_hash) DO UPDATE SET erased_at = excluded.erased_at",
            (address_hash, now),
        )
        return len(ids)

    def mark_erased(self, address_hash: str, now: float) -> None:
        """Remember one more keyed hash of an erased person (another spelling of their inbox)."""
        self._db.execute(
            "INSERT INTO erasures (address_hash, erased_at) VALUES (?, ?)"
            " ON CONFLICT (address_hash) DO UPDATE SET erased_at = excluded.erased_at",
            (address_hash, now),
        )

    def erased_at(self, address_hash: str) -> float | None:
        row = self._db.execute(
            "SELECT erased_at FROM erasures WHERE address_hash = ?", (address_hash,)
        ).fetchone()
        return float(row[0]) if row else None

    def purge_unconfirmed(self, before: float, limit: int) -> int:
        """Retention: up to ``limit`` pending contacts created before ``before`` go, with their
        personal data; the caller repeats until none is left (each round is short)."""
        ids = [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM contacts WHERE status = 'pending' AND created_at < ? ORDER BY created_at LIMIT ?",
                (before, limit),
            ).fetchall()
        ]
        if ids:
            marks = ", ".join("?" * len(ids))
            self._db.execute(
                "DELETE FROM link_events WHERE token_id IN"
                f" (SELECT token_id FROM confirmations WHERE contact_id IN ({marks}))",
                ids,
            )
            for table in ("confirmations", "consent_events"):
                self._db.execute(f"DELETE FROM {table} WHERE contact_id IN ({marks})", ids)
            self._db.execute(f"DELETE FROM contacts WHERE id IN ({marks})", ids)
        return len(ids)

    def purge_finished_jobs(self, before: float, limit: int) -> int:
        """Up to ``limit`` jobs done or dropped before ``before`` (dead ones wait for the owner)."""
        return self._db.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state IN ('done', 'dropped')"
            " AND updated_at < ? ORDER BY updated_at LIMIT ?)",
            (before, limit),
        ).rowcount

    def purge_counters(self, now: float, keep_seconds: float, limit: int) -> int:
        """Up to ``limit`` expired rows of each counter table and of the single-use keys."""
        oldest_minute = int((now - keep_seconds) // 60)
        row = self._db.dialect.row_id  # rate_hits has no key of its own
        return sum(
            self._db.execute(sql, params).rowcount
            for sql, params in (
                (f"DELETE FROM rate_hits WHERE {row} IN (SELECT {row} FROM rate_hits WHERE at < ? LIMIT ?)",
                 (now - keep_seconds, limit)),
                ("DELETE FROM rate_buckets WHERE (key, bucket) IN"
                 " (SELECT key, bucket FROM rate_buckets WHERE bucket < ? LIMIT ?)", (oldest_minute, limit)),
                ("DELETE FROM once_keys WHERE key IN (SELECT key FROM once_keys WHERE expires_at < ? LIMIT ?)",
                 (now, limit)),
            )
        )  # fmt: skip
