"""The SQL of imports: runs and their claims, paused schedules, and the contact rows an import reads
and writes. Functions of a :class:`Transaction`, run inside ``store.write`` / ``store.read``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from service.store.records import ContactRow
from service.store.transaction import _CONTACT_COLUMNS, Transaction, _contact

_RUN_COLUMNS = (
    "id, name, period, started_by, source, started_at, finished_at, state, file_sha256,"
    " rows_read, added, updated, unchanged, not_imported, error, notes"
)


@dataclass(frozen=True)
class ImportRun:
    id: int
    name: str
    period: int | None
    started_by: str
    source: str
    started_at: float
    finished_at: float | None
    state: str
    file_sha256: str | None
    rows_read: int
    added: int
    updated: int
    unchanged: int
    not_imported: int
    error: str | None
    notes: str | None


@dataclass(frozen=True)
class RunCounts:
    rows_read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    not_imported: int = 0


def claim_period(tx: Transaction, name: str, period: int, source: str, now: float) -> int | None:
    """Start the run of ``name`` for schedule ``period``; None when another process already has
    (the UNIQUE (name, period) key decides, on SQLite as on PostgreSQL)."""
    row = tx.execute(
        "INSERT INTO import_runs (name, period, started_by, source, started_at, state)"
        " VALUES (?, ?, 'schedule', ?, ?, 'running') ON CONFLICT (name, period) DO NOTHING RETURNING id",
        (name, period, source, now),
    ).fetchone()
    return int(row[0]) if row else None


def start_run(tx: Transaction, name: str, started_by: str, source: str, now: float) -> int:
    """A run outside the schedule (by hand, or ``optin import FILE``)."""
    row = tx.execute(
        "INSERT INTO import_runs (name, period, started_by, source, started_at, state)"
        " VALUES (?, NULL, ?, ?, ?, 'running') RETURNING id",
        (name, started_by, source, now),
    ).fetchone()
    return int(row[0])


def beat(tx: Transaction, run_id: int, now: float) -> None:
    """The process running ``run_id`` is alive."""
    tx.execute("UPDATE import_runs SET heartbeat_at = ? WHERE id = ? AND state = 'running'", (now, run_id))


def _silent_runs(tx: Transaction, silent_since: float) -> list[tuple[Any, ...]]:
    return tx.execute(
        "SELECT id, name, period FROM import_runs WHERE state = 'running'"
        " AND COALESCE(heartbeat_at, started_at) < ?",
        (silent_since,),
    ).fetchall()


def any_silent_run(tx: Transaction, silent_since: float) -> bool:
    """A read first: most ticks find nothing, and need no write."""
    return bool(_silent_runs(tx, silent_since))


def abandon_silent_runs(tx: Transaction, silent_since: float, now: float) -> list[tuple[str, int | None]]:
    """Record as failed every run whose process stopped beating before ``silent_since`` (it was
    killed); its period is freed so the schedule runs it again. The (name, period) of each."""
    rows = _silent_runs(tx, silent_since)
    abandoned: list[tuple[str, int | None]] = []
    for run_id, name, period in rows:
        note = f"scheduled for period {period}; " if period is not None else ""
        # Another replica's tick may have taken it between the SELECT and here: only ours count.
        taken = tx.execute(
            "UPDATE import_runs SET state = 'failed', finished_at = ?, period = NULL, error = ?"
            " WHERE id = ? AND state = 'running' RETURNING id",
            (now, f"abandoned: {note}the process running it stopped without finishing", run_id),
        ).fetchone()
        if taken:
            abandoned.append((str(name), None if period is None else int(period)))
    return abandoned


def finish_run(
    tx: Transaction,
    run_id: int,
    *,
    failed: bool,
    counts: RunCounts,
    sha256: str | None,
    error: str | None,
    notes: str | None,
    now: float,
) -> None:
    tx.execute(
        "UPDATE import_runs SET state = ?, finished_at = ?, file_sha256 = ?, rows_read = ?, added = ?,"
        " updated = ?, unchanged = ?, not_imported = ?, error = ?, notes = ? WHERE id = ?",
        (
            "failed" if failed else "done",
            now,
            sha256,
            counts.rows_read,
            counts.added,
            counts.updated,
            counts.unchanged,
            counts.not_imported,
            error,
            notes,
            run_id,
        ),
    )


def _run(row: tuple[Any, ...]) -> ImportRun:
    return ImportRun(*row)


def runs(tx: Transaction, name: str | None = None, limit: int = 20) -> list[ImportRun]:
    where, params = ("WHERE name = ?", (name,)) if name else ("", ())
    rows = tx.execute(
        f"SELECT {_RUN_COLUMNS} FROM import_runs {where} ORDER BY started_at DESC, id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [_run(r) for r in rows]


def latest_runs(tx: Transaction) -> dict[str, ImportRun]:
    """Each import's most recent run."""
    rows = tx.execute(
        f"SELECT {_RUN_COLUMNS} FROM import_runs r WHERE id = (SELECT max(id) FROM import_runs"
        " WHERE name = r.name)"
    ).fetchall()
    return {row[1]: _run(row) for row in rows}


def set_paused(tx: Transaction, name: str, paused: bool, now: float) -> None:
    tx.execute(
        "INSERT INTO import_schedules (name, paused_at, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET paused_at = excluded.paused_at, updated_at = excluded.updated_at",
        (name, now if paused else None, now),
    )


def paused(tx: Transaction) -> dict[str, float]:
    """name -> when it was paused, for every paused import."""
    rows = tx.execute("SELECT name, paused_at FROM import_schedules WHERE paused_at IS NOT NULL").fetchall()
    return {str(r[0]): float(r[1]) for r in rows}


# --- the contacts an import reads and writes ---------------------------------------------------


def contacts_by_email(tx: Transaction, form_id: str, emails: Iterable[str]) -> dict[str, ContactRow]:
    wanted = sorted(set(emails))
    found: dict[str, ContactRow] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = tx.execute(
            f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE form_id = ? AND email IN ({', '.join('?' * len(chunk))})",
            (form_id, *chunk),
        ).fetchall()
        found.update((row[2], _contact(row)) for row in rows)
    return found


def unsubscribed_emails(tx: Transaction, form_id: str) -> list[str]:
    rows = tx.execute(
        "SELECT email FROM contacts WHERE form_id = ? AND status = 'unsubscribed'", (form_id,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def erased(tx: Transaction, hashes: Iterable[str]) -> bool:
    """Whether any of these keyed hashes of an address was erased."""
    wanted = list(dict.fromkeys(hashes))
    row = tx.execute(
        f"SELECT 1 FROM erasures WHERE address_hash IN ({', '.join('?' * len(wanted))})", tuple(wanted)
    ).fetchone()
    return row is not None


def update_contact(
    tx: Transaction,
    contact: ContactRow,
    first: str | None,
    last: str | None,
    language: str | None,
    confirm: bool,
    now: float,
) -> None:
    """The file's names and language where it has them; confirmed when the import holds consent."""
    tx.execute(
        "UPDATE contacts SET first_name = ?, last_name = ?, language = ?, status = ?, confirmed_at = ?,"
        " updated_at = ? WHERE id = ?",
        (
            first or contact.first_name,
            last or contact.last_name,
            language or contact.language,
            "confirmed" if confirm else contact.status,
            (contact.confirmed_at or now) if confirm else contact.confirmed_at,
            now,
            contact.id,
        ),
    )
