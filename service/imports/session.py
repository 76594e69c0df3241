"""One import as a recorded run: a row in ``import_runs`` before it starts, its counts and error
after, whatever happened in between."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from service.errors import InputError
from service.imports.runner import ImportRequest, ImportRunner, Progress, Report, Summary
from service.store import Store
from service.store import imports as sql

HEARTBEAT_SECONDS = 30.0
# Ten missed beats: the process running the import is gone (killed, its machine lost).
SILENT_AFTER_SECONDS = 300.0


@contextlib.asynccontextmanager
async def heartbeat(store: Store, run_id: int, every: float = HEARTBEAT_SECONDS) -> AsyncIterator[None]:
    """Tell every replica that this process is still running ``run_id``, for as long as it runs."""

    async def beat_forever() -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat is not a failed import
                await store.write(functools.partial(sql.beat, run_id=run_id, now=time.time()))
            await asyncio.sleep(every)

    task = asyncio.create_task(beat_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def notes_of(summary: Summary) -> str:
    text = summary.line()
    if summary.stopped_at is not None:
        text += f"; stopped at max_rows before row {summary.stopped_at}"
    if summary.reasons:
        text += f". Not imported: {summary.reasons_line()}"
    if summary.notices:
        text += ". " + " ".join(summary.notices)
    return text


async def finish(
    runner: ImportRunner, run_id: int, summary: Summary | None, error: str | None, sha256: str | None = None
) -> None:
    counts = sql.RunCounts()
    if summary is not None:
        o = summary.outcomes
        counts = sql.RunCounts(
            summary.rows, o["added"] + o["asked"], o["updated"], o["unchanged"], o["not_imported"]
        )
    notes = notes_of(summary) if summary else None
    digest = summary.sha256 if summary else sha256
    now = time.time()
    await runner.store.write(
        lambda tx: sql.finish_run(
            tx,
            run_id,
            failed=error is not None,
            counts=counts,
            sha256=digest,
            error=error,
            notes=notes,
            now=now,
        )
    )


async def recorded_run(
    runner: ImportRunner,
    request: ImportRequest,
    report: Report,
    progress: Progress | None = None,
    *,
    record: bool = True,
) -> Summary:
    """Run ``request``; with ``record``, inside a row of ``import_runs`` (one is started unless the
    request names its run already, as a scheduled run's claim does)."""
    if not record:
        return await runner.run(request, report, progress)
    run_id = request.run_id
    beating: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
    if run_id is None:
        now = time.time()
        source = request.source or str(request.path)
        run_id = await runner.store.write(
            lambda tx: sql.start_run(tx, request.name, request.started_by, source, now)
        )
        request = replace(request, run_id=run_id)
        beating = heartbeat(runner.store, run_id)  # a run we started: we say it is alive
    try:
        async with beating:
            summary = await runner.run(request, report, progress)
    except InputError as exc:
        await finish(runner, run_id, None, str(exc))
        raise
    except Exception as exc:
        await finish(runner, run_id, None, f"internal error: {exc!r}")
        raise
    await finish(runner, run_id, summary, None)
    return summary
