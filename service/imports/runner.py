"""An import from start to end: read the file, map each row, verify it with the form's policy
(concurrently, through the verifier's caches), merge rows of one mailbox, decide each against our
list in batches (service.imports.apply), report every row not imported, count everything.

Rows stream through in batches of :data:`BATCH`: memory stays flat whatever the file's size; each
batch is one transaction, so an import stopped halfway keeps what it did and running it again
only updates.
"""

from __future__ import annotations

import asyncio
import csv
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from service.errors import InputError
from service.imports import mapping, reader
from service.imports.apply import POLICIES, Batch, Candidate, Decided, Pace, Policy, decide_batch
from service.mailbox import mailbox_key
from service.names import clean_name
from service.settings import FormSettings, Settings
from service.store import Store, Transaction
from service.store import imports as sql
from service.verification import Verdict, Verifier

BATCH = 500
CONCURRENCY = 64
REPORT_FIELDS = ("row", "email", "outcome", "reason", "suggestion")


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    form_id: str
    policy: str
    permission: str
    by: str
    name: str = "cli"
    connector: str | None = None
    mapped: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    reconfirm: bool = False
    dry_run: bool = False
    max_rows: int | None = None
    day_of_cycle: int | None = None
    started_by: str = "cli"
    source: str = ""  # what to record as the run's source (a URL for a recurring import)
    run_id: int | None = None


@dataclass
class Summary:
    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    warned: int = 0
    sha256: str = ""
    notices: list[str] = field(default_factory=list)
    stopped_at: int | None = None  # max_rows reached at this row
    columns: str = ""

    @property
    def not_imported(self) -> int:
        return self.outcomes["not_imported"]

    def line(self) -> str:
        o = self.outcomes
        parts = [f"{self.rows:,} row(s)", f"{o['added']:,} added", f"{o['updated']:,} updated"]
        if o["asked"]:
            parts.append(f"{o['asked']:,} asked to confirm")
        parts += [f"{o['unchanged']:,} left unchanged", f"{o['not_imported']:,} not imported"]
        if self.warned:
            parts.append(f"{self.warned:,} imported with a warning")
        return ", ".join(parts)

    def reasons_line(self, top: int = 5) -> str:
        return "; ".join(f"{n} × {reason}" for reason, n in self.reasons.most_common(top))


class Report:
    """The CSV of every row not imported (and every row imported with a warning), with why."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream
        self.writer = csv.writer(stream, lineterminator="\n") if stream else None
        if self.writer:
            self.writer.writerow(REPORT_FIELDS)

    def add(self, row: int, email: str, outcome: str, reason: str, suggestion: str | None = None) -> None:
        if self.writer:
            self.writer.writerow((row, email, outcome, reason, suggestion or ""))


Progress = Callable[[int], None]  # rows done so far


@dataclass
class _Pending:
    row: int
    typed: str
    mapped: mapping.Mapped
    verdict: Verdict | None = None


class ImportRunner:
    def __init__(
        self, settings: Settings, store: Store, verifier: Verifier, *, emails_per_minute: float = 100.0
    ) -> None:
        if not emails_per_minute > 0 or math.isinf(emails_per_minute):  # nan is neither > 0 nor <= 0
            raise InputError("--emails-per-minute must be a number more than 0")
        self.settings = settings
        self.store = store
        self.verifier = verifier
        self.email_spacing = 60.0 / emails_per_minute

    def form(self, form_id: str) -> FormSettings:
        form = self.settings.forms.get(form_id)
        if form is None:
            raise InputError(
                f"there is no form {form_id!r} (forms: {', '.join(self.settings.forms) or 'none'})"
            )
        return form

    def batch_settings(self, request: ImportRequest, sha256: str) -> Batch:
        form = self.form(request.form_id)
        connector = request.connector or form.connector
        if connector != "builtin" and connector not in self.settings.connectors:
            known = ", ".join(["builtin", *self.settings.connectors])
            raise InputError(f"there is no connector {connector!r} (connectors: {known})")
        if request.policy not in POLICIES:
            raise InputError(f"the policy must be one of {', '.join(POLICIES)}, not {request.policy!r}")
        if not request.permission.strip():
            raise InputError(
                'say how you have these people\'s permission (--permission "…"): it goes in each ledger'
            )
        policy: Policy = next(p for p in POLICIES if p == request.policy)
        return Batch(
            name=request.name,
            form=form,
            connector=connector,
            policy=policy,
            permission=request.permission.strip(),
            reconfirm=request.reconfirm,
            sha256=sha256,
            file=request.source or request.path.name,
            by=request.by,
            secret=self.settings.server.secret_key,
            limits=self.settings.limits,
            sender=self.settings.smtp.sender,
            run_id=request.run_id,
            day_of_cycle=request.day_of_cycle,
            email_spacing=self.email_spacing,
        )

    async def run(self, request: ImportRequest, report: Report, progress: Progress | None = None) -> Summary:
        """Import ``request.path``; raises InputError (nothing imported) when the file or the
        request cannot be used at all. Rows that cannot be imported go to ``report``."""
        info = reader.inspect(request.path)
        batch = self.batch_settings(request, info.sha256)
        columns, rows = reader.read(request.path, info)
        # A form that declares custom fields takes only those; one that declares none keeps what is
        # mapped in the ledger line of the import (and passes it to the list).
        known_fields = {spec.name for spec in batch.form.fields} if batch.form.fields else None
        column_map = mapping.build(columns, request.mapped, request.ignore, known_fields)
        summary = Summary(sha256=info.sha256, notices=list(info.notices), columns=column_map.describe())
        unsubscribed = await self.store.read(lambda tx: sql.unsubscribed_emails(tx, batch.form.id))
        gone = frozenset(mailbox_key(e) for e in unsubscribed)
        seen: dict[str, int] = {}
        pace = Pace()
        for chunk in _chunks(rows, request.max_rows, summary):
            ready = await self._verify(chunk, column_map, batch.form, report, summary)
            candidates = self._merge(ready, seen, report, summary)
            decided = await self._decide(batch, candidates, gone, pace, write=not request.dry_run)
            for candidate, outcome in zip(candidates, decided, strict=True):
                summary.outcomes[outcome.outcome] += 1
                if outcome.outcome == "not_imported":
                    summary.reasons[outcome.reason] += 1
                    report.add(candidate.row, candidate.typed, "not imported", outcome.reason)
                elif outcome.outcome == "unchanged":
                    report.add(candidate.row, candidate.typed, "unchanged", outcome.reason)
            if progress:
                progress(summary.rows)
        return summary

    async def _verify(
        self,
        chunk: list[reader.Row],
        column_map: mapping.ColumnMap,
        form: FormSettings,
        report: Report,
        summary: Summary,
    ) -> list[_Pending]:
        pending: list[_Pending] = []
        for row in chunk:
            mapped = mapping.apply(column_map, row.values) if row.problem is None else row.problem
            if isinstance(mapped, str):
                typed = row.values.get(column_map.email_column, "") if row.values else ""
                _skip(report, summary, row.number, typed, f"the row {mapped}")
                continue
            pending.append(_Pending(row.number, mapped.email, mapped))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def check(item: _Pending) -> None:
            item.verdict = self.verifier.verify_cached(item.typed, form.policy)
            if item.verdict is None:
                async with gate:
                    item.verdict = await self.verifier.verify(item.typed, form.policy)

        await asyncio.gather(*(check(item) for item in pending))
        kept: list[_Pending] = []
        for item in pending:
            verdict = item.verdict
            assert verdict is not None
            if verdict.decision == "reject" or verdict.normalized is None:
                reason = verdict.message or "this address cannot receive mail"
                _skip(report, summary, item.row, item.typed, reason, verdict.suggestion)
                continue
            if verdict.decision == "warn":
                summary.warned += 1
                report.add(
                    item.row, item.typed, "imported with a warning", verdict.message, verdict.suggestion
                )
            kept.append(item)
        return kept

    def _merge(
        self, ready: list[_Pending], seen: dict[str, int], report: Report, summary: Summary
    ) -> list[Candidate]:
        """One candidate per mailbox: a later row of the same mailbox fills the first one's blanks."""
        out: dict[str, Candidate] = {}
        for item in ready:
            assert item.verdict is not None and item.verdict.normalized is not None
            email = item.verdict.normalized
            key = mailbox_key(email)
            m = item.mapped
            first = seen.get(key)
            if first is not None:
                if key in out:
                    earlier = out[key]
                    out[key] = replace(
                        earlier,
                        first_name=earlier.first_name or clean_name(m.first_name),
                        last_name=earlier.last_name or clean_name(m.last_name),
                        language=earlier.language or m.language,
                        fields={**m.fields, **earlier.fields},
                    )
                    reason = f"the same mailbox as row {first}: merged into it"
                else:
                    reason = f"the same mailbox as row {first}, already imported above"
                _skip(report, summary, item.row, item.typed, reason, outcome="merged")
                continue
            seen[key] = item.row
            out[key] = Candidate(
                row=item.row,
                typed=item.typed,
                email=email,
                first_name=clean_name(m.first_name),
                last_name=clean_name(m.last_name),
                language=m.language,
                fields=dict(m.fields),
            )
        return list(out.values())

    async def _decide(
        self, batch: Batch, candidates: list[Candidate], gone: frozenset[str], pace: Pace, *, write: bool
    ) -> list[Decided]:
        if not candidates:
            return []
        now = time.time()

        def op(tx: Transaction) -> list[Decided]:
            return decide_batch(tx, batch, candidates, gone, pace, now, write=write)

        if write:
            return await self.store.write(op)
        return await self.store.read(op)


def _skip(
    report: Report,
    summary: Summary,
    row: int,
    typed: str,
    reason: str,
    suggestion: str | None = None,
    outcome: str = "not imported",
) -> None:
    summary.outcomes["not_imported"] += 1
    summary.reasons[reason if outcome == "not imported" else "the same mailbox as an earlier row"] += 1
    report.add(row, typed, outcome, reason, suggestion)


def _chunks(rows: Iterator[reader.Row], max_rows: int | None, summary: Summary) -> Iterator[list[reader.Row]]:
    chunk: list[reader.Row] = []
    for row in rows:
        if max_rows is not None and summary.rows >= max_rows:
            summary.stopped_at = row.number
            break
        summary.rows += 1
        chunk.append(row)
        if len(chunk) >= BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
