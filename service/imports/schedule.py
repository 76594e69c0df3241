"""Recurring imports on the worker: each ``[imports.NAME]`` runs once per period of ``every``,
across every replica sharing the database (a run claims its period in ``import_runs``; a second
claim of the same period finds it taken). A source that fails is recorded on the run and emails
the owner, at most once an hour per import, like a failing list connector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from service import jobs
from service.errors import InputError
from service.imports.fetch import fetch
from service.imports.runner import ImportRequest, ImportRunner, Report, Summary
from service.imports.session import SILENT_AFTER_SECONDS, finish, heartbeat, recorded_run
from service.imports.settings import ImportSettings
from service.mail.compose import new_message_id
from service.settings import Settings
from service.store import Store, Transaction
from service.store import imports as sql
from service.verification import Verifier

log = logging.getLogger("optin.imports")
TICK_SECONDS = 30.0


def period_of(settings: ImportSettings, now: float) -> int:
    return int(now // settings.every)


class ImportScheduler:
    def __init__(self, settings: Settings, store: Store, verifier: Verifier) -> None:
        self.settings = settings
        self.store = store
        self.runner = ImportRunner(settings, store, verifier)

    async def run_forever(self, interval: float = TICK_SECONDS) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.tick(time.time())
            await asyncio.sleep(interval)

    async def tick(self, now: float) -> list[str]:
        """Run every enabled, unpaused import whose current period has no run yet; their names."""
        await self.give_up_abandoned_runs(now)
        if not self.settings.imports:
            return []
        paused = await self.store.read(sql.paused)
        started: list[str] = []
        for imp in self.settings.imports.values():
            if not imp.enabled or imp.name in paused:
                continue
            run_id = await self.store.write(self._claim(imp, now))
            if run_id is None:
                continue  # this period's run is another replica's, or done
            started.append(imp.name)
            await self.run(imp, run_id, "schedule")
        return started

    async def give_up_abandoned_runs(self, now: float) -> None:
        """A run whose process was killed stays `running` forever unless someone notices its silence;
        recorded as failed, a scheduled run's period is free again and this tick runs it anew."""
        silent_since = now - SILENT_AFTER_SECONDS
        if not await self.store.read(lambda tx: sql.any_silent_run(tx, silent_since)):
            return
        abandoned = await self.store.write(lambda tx: sql.abandon_silent_runs(tx, silent_since, now))
        for name, period in abandoned:
            again = "it runs again now" if period is not None else "run it again with `optin import`"
            await self.alert(name, f"the process running it stopped before it finished; {again}")

    @staticmethod
    def _claim(imp: ImportSettings, now: float) -> Callable[[Transaction], int | None]:
        period = period_of(imp, now)
        return lambda tx: sql.claim_period(tx, imp.name, period, imp.source, now)

    async def run_now(self, name: str, by: str) -> Summary | None:
        imp = self.settings.imports[name]
        now = time.time()
        run_id = await self.store.write(lambda tx: sql.start_run(tx, name, by, imp.source, now))
        return await self.run(imp, run_id, by)

    async def run(self, imp: ImportSettings, run_id: int, by: str) -> Summary | None:
        """Fetch and import; None when it failed (recorded on the run, the owner alerted)."""
        async with heartbeat(self.store, run_id):
            return await self._fetch_and_import(imp, run_id, by)

    async def _fetch_and_import(self, imp: ImportSettings, run_id: int, by: str) -> Summary | None:
        with tempfile.TemporaryDirectory(prefix="optin-import-") as folder:
            try:
                path = await fetch(imp, Path(folder))
            except InputError as exc:
                await finish(self.runner, run_id, None, str(exc))
                await self.alert(imp.name, str(exc))
                return None
            request = ImportRequest(
                path=path,
                form_id=imp.form,
                policy=imp.policy,
                permission=imp.permission,
                by=f"[imports.{imp.name}]",
                name=imp.name,
                connector=imp.connector,
                mapped=dict(imp.map),
                ignore=imp.ignore,
                max_rows=imp.max_rows,
                day_of_cycle=imp.day_of_cycle,
                started_by=by,
                source=imp.source,
                run_id=run_id,
            )
            try:
                with (Path(folder) / "report.csv").open("w", newline="", encoding="utf-8") as out:
                    summary = await recorded_run(self.runner, request, Report(out))
            except InputError as exc:
                await self.alert(imp.name, str(exc))
                return None
            except Exception as exc:
                log.exception("import %s failed", imp.name)
                await self.alert(imp.name, f"internal error: {exc!r}")
                return None
        log.info("import %s: %s", imp.name, summary.line())
        return summary

    async def alert(self, name: str, reason: str) -> None:
        owner = self.settings.server.owner_email
        log.warning(
            "import %s failed: %s (%s)",
            name,
            reason,
            f"emailing {owner}" if owner else "no server.owner_email",
        )
        if not owner:
            return
        now = time.time()
        message_id = new_message_id(self.settings.smtp.sender)

        def queue(tx: Transaction) -> None:
            tx.enqueue(jobs.import_alert_email(name, now, reason, message_id), now)

        await self.store.write(queue)
