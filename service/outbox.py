"""The durable outbox worker: runs queued jobs, retries with backoff, never loses one.

Jobs are leased, not deleted: a process killed mid-job leaves a lease that expires, and the
next worker (after a restart, or another instance) picks the job up again. Leases are renewed
while a job runs. Transient failures back off exponentially with jitter (or as the remote's
Retry-After says); permanent ones, and jobs out of attempts, become ``dead`` with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable

from service.errors import DeliveryError
from service.settings import OutboxSettings
from service.store import Job, Store

log = logging.getLogger("optin.outbox")

RunJob = Callable[[Job], Awaitable[str]]
LaneOf = Callable[[Job], tuple[str, int]]


def backoff(attempt: int, settings: OutboxSettings, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, full jitter in the upper half."""
    ceiling = min(settings.max_delay, settings.base_delay * 2 ** max(attempt - 1, 0))
    delay: float = ceiling * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.max_delay))
    return delay


class OutboxWorker:
    def __init__(self, store: Store, settings: OutboxSettings, run: RunJob, lane_of: LaneOf) -> None:
        self.store = store
        self.settings = settings
        self._run = run
        self._lane_of = lane_of
        self._lanes: dict[str, asyncio.Semaphore] = {}
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop()), asyncio.create_task(self._heartbeat())]

    async def stop(self, grace: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=grace)
        for task in [*self._tasks, *self._inflight.values()]:
            task.cancel()
        for task in [*self._tasks, *self._inflight.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("could not read the outbox; trying again shortly")
                claimed = 0
            if claimed == 0 or len(self._inflight) >= self.settings.concurrency:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def _claim(self) -> int:
        free = self.settings.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        claimed = await self.store.claim_jobs(time.time(), free, self.settings.lease_seconds)
        for job in claimed:
            task = asyncio.create_task(self._process(job))
            self._inflight[job.id] = task
            task.add_done_callback(functools.partial(self._done, job.id))
        return len(claimed)

    def _done(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(job_id, None)
        self._wake.set()

    async def _heartbeat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            with contextlib.suppress(Exception):
                await self.store.extend_leases(
                    list(self._inflight), time.time() + self.settings.lease_seconds
                )

    def _lane(self, job: Job) -> asyncio.Semaphore:
        name, limit = self._lane_of(job)
        if name not in self._lanes:
            self._lanes[name] = asyncio.Semaphore(max(1, limit))
        return self._lanes[name]

    async def _process(self, job: Job) -> None:
        async with self._lane(job):
            await self.execute(job)

    async def execute(self, job: Job) -> None:
        """Run one claimed job and record what happened."""
        try:
            note = await self._run(job)
        except DeliveryError as exc:
            await self._failed(job, exc.detail, exc.permanent, exc.retry_after)
        except Exception as exc:  # a bug must not lose the job: keep it, retry, say why
            log.exception("job %s (%s) failed unexpectedly", job.id, job.kind)
            await self._failed(job, f"internal error: {exc!r}", False, None)
        else:
            await self.store.finish_job(job.id, time.time(), note)
            log.info("job %s (%s) done: %s", job.id, job.kind, note)

    async def _failed(self, job: Job, detail: str, permanent: bool, retry_after: float | None) -> None:
        now = time.time()
        if permanent or job.attempts >= self.settings.max_attempts:
            why = "permanent failure" if permanent else f"gave up after {job.attempts} attempts"
            await self.store.kill_job(job.id, f"{why}: {detail}", now)
            log.warning("job %s (%s) is dead: %s", job.id, job.kind, detail)
            return
        delay = backoff(job.attempts, self.settings, retry_after)
        await self.store.reschedule_job(job.id, now + delay, detail, now)
        log.info("job %s (%s) will retry in %.0fs: %s", job.id, job.kind, delay, detail)
