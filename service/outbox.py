"""The durable outbox worker: runs queued jobs, retries with backoff, never loses one.

Jobs are leased, not deleted: a process killed mid-job leaves a lease that expires, and the
next worker (after a restart, or another instance) picks the job up again. Leases are renewed
while a job runs. Transient failures back off exponentially with jitter (or as the remote's
Retry-After says); permanent ones, and jobs out of attempts, become ``dead`` with the reason.

When several list upserts for a connector with a batch endpoint are due at once, the worker
claims a whole batch of them and runs it as one unit (see :class:`Batcher`); each job still
keeps its own lease, attempts and outcome. A runner may also decline to attempt a job for now
(:class:`Deferred`, e.g. its connector is rate-limited): the job waits without using an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from service import metrics
from service.errors import DeliveryError
from service.settings import OutboxSettings
from service.store import Job, Store, Transaction

log = logging.getLogger("optin.outbox")

RunJob = Callable[[Job], Awaitable["str | Done"]]
LaneOf = Callable[[Job], tuple[str, int]]


class Deferred(Exception):
    """Raised by a runner that did not attempt a job: it waits until ``until``, attempts unchanged."""

    def __init__(self, until: float, why: str) -> None:
        self.until = until
        self.why = why
        super().__init__(why)


# What one job came to: a note (done), an error (retry or dead), or a deferral.
@dataclass(frozen=True)
class Done:
    """A job that succeeded, and what else its success records: written in the same commit as
    the job's end, so an email costs one write, not two."""

    note: str
    record: Callable[[Transaction], None]


Outcome = str | Done | DeliveryError | Deferred


@dataclass(frozen=True)
class BatchGroup:
    """Jobs that may run together through one batch call: same kind, same connector."""

    kind: str
    connector: str
    size: int  # at most this many per call


@runtime_checkable
class Batcher(Protocol):
    def batch_group(self, job: Job) -> BatchGroup | None: ...

    async def run_batch(self, jobs: Sequence[Job]) -> list[Outcome]: ...


def backoff(attempt: int, settings: OutboxSettings, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, full jitter in the upper half."""
    ceiling = min(settings.max_delay, settings.base_delay * 2 ** max(attempt - 1, 0))
    delay: float = ceiling * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.max_delay))
    return delay


def gives_up(job: Job, permanent: bool, settings: OutboxSettings) -> bool:
    """Whether a failure of this attempt makes the job dead (shared with connector health)."""
    return permanent or job.attempts >= settings.max_attempts


class OutboxWorker:
    """``batch="auto"`` batches through ``run``'s owner when it is a :class:`Batcher` (the
    Delivery behind ``delivery.run``); ``None`` runs every job on its own."""

    def __init__(
        self,
        store: Store,
        settings: OutboxSettings,
        run: RunJob,
        lane_of: LaneOf,
        *,
        batch: Batcher | Literal["auto"] | None = "auto",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.clock = clock  # what "due" means; tests move it on to run a job queued for later
        self.settings = settings
        self._run = run
        self._lane_of = lane_of
        if isinstance(batch, str):
            owner = getattr(run, "__self__", None)
            batch = owner if isinstance(owner, Batcher) else None
        self._batch = batch
        # A runner may read what a handful of claimed jobs need in one go (Delivery.prepare).
        self._prepare: Callable[[Sequence[Job]], Awaitable[None]] | None = getattr(
            getattr(run, "__self__", None), "prepare", None
        )
        self._lanes: dict[str, asyncio.Semaphore] = {}
        self._inflight: dict[int, asyncio.Task[None]] = {}  # job id -> its task (a batch holds many)
        # Claimed, and not yet handed to a task (reading ahead, topping batches up): leased all the same.
        self._claimed: set[int] = set()
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop()), asyncio.create_task(self._heartbeat())]

    async def stop(self, grace: float = 5.0) -> None:
        """Drain: claim nothing more, let running jobs finish for ``grace`` seconds, then hand the
        leases of the unfinished ones back so another worker takes them at once."""
        self._stopping = True
        self._wake.set()
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        unfinished = [*self._inflight, *self._claimed]
        for task in [*self._tasks, *self._running]:
            task.cancel()
        for task in [*self._tasks, *self._running]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if unfinished:
            try:
                await self.store.release_jobs(unfinished)
                log.info("handed %d unfinished job(s) back to the queue", len(unfinished))
            except Exception:
                log.exception("could not hand jobs back; their leases expire instead")

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("could not read the outbox; trying again shortly")
                claimed = 0
            if claimed == 0 or len(self._running) >= self.settings.concurrency:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def _claim(self) -> int:
        free = self.settings.concurrency - len(self._running)
        # In a backlog, claim in handfuls (one write leases several jobs), not one job per write
        # each time one finishes.
        if free <= 0 or (self._running and free < max(1, self.settings.concurrency // 2)):
            return 0
        claimed = await self.store.claim_jobs(self.clock(), free, self.settings.lease_seconds)
        # From the claim on, the heartbeat renews these leases: reading ahead or topping a batch
        # up on a slow machine must not let a lease lapse and hand the job to another worker.
        self._claimed.update(job.id for job in claimed)
        try:
            if claimed and self._prepare is not None:
                try:
                    await self._prepare(claimed)
                except Exception:  # only an optimisation: each job then reads for itself
                    log.exception("could not read ahead for %d claimed jobs", len(claimed))
            for unit in await self._units(claimed, backlog=len(claimed) >= free):
                self._spawn(unit)
        finally:
            self._claimed.clear()
        return len(claimed)

    async def _units(self, claimed: list[Job], backlog: bool) -> list[list[Job]]:
        """Split claimed jobs into what runs alone and batches, topping batches up when jobs pile up."""
        if self._batch is None:
            return [[job] for job in claimed]
        units: list[list[Job]] = []
        groups: dict[BatchGroup, list[Job]] = {}
        for job in claimed:
            group = self._batch.batch_group(job)
            if group is None:
                units.append([job])
            else:
                groups.setdefault(group, []).append(job)
        for group, members in groups.items():
            # Two due at once, or a full claim, means a backlog: fill the batch from the queue.
            if len(members) >= 2 or backlog:
                room = -len(members) % group.size
                try:
                    more = await self.store.claim_connector_jobs(
                        group.kind, group.connector, self.clock(), room, self.settings.lease_seconds
                    )
                    self._claimed.update(job.id for job in more)
                    members += more
                except Exception:
                    log.exception("could not claim a batch for %s; running what was claimed", group.connector)
            units += [members[i : i + group.size] for i in range(0, len(members), group.size)]
        return units

    def _spawn(self, unit: list[Job]) -> None:
        task = asyncio.create_task(self._process(unit))
        self._running.add(task)
        for job in unit:
            self._inflight[job.id] = task
        task.add_done_callback(functools.partial(self._done, [job.id for job in unit]))

    def _done(self, job_ids: list[int], task: asyncio.Task[None]) -> None:
        for job_id in job_ids:
            self._inflight.pop(job_id, None)
        self._running.discard(task)
        self._wake.set()

    async def _heartbeat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            with contextlib.suppress(Exception):
                await self.store.extend_leases(
                    [*self._inflight, *self._claimed], self.clock() + self.settings.lease_seconds
                )

    def _lane(self, job: Job) -> asyncio.Semaphore:
        name, limit = self._lane_of(job)
        if name not in self._lanes:
            self._lanes[name] = asyncio.Semaphore(max(1, limit))
        return self._lanes[name]

    async def _process(self, unit: list[Job]) -> None:
        # The lane bounds the work against the remote (the relay's connections, a connector's
        # calls); recording the outcome is the database's, so the slot is handed on first.
        async with self._lane(unit[0]):
            outcomes = [await self._attempt(unit[0])] if len(unit) == 1 else await self._attempt_batch(unit)
        await self._record(unit, outcomes)

    async def execute(self, job: Job) -> None:
        """Run one claimed job and record what happened."""
        await self._record([job], [await self._attempt(job)])

    async def execute_batch(self, jobs: list[Job]) -> None:
        """Run claimed jobs through one batch call; each job's own outcome is recorded."""
        await self._record(jobs, await self._attempt_batch(jobs))

    async def _attempt(self, job: Job) -> Outcome:
        try:
            return await self._run(job)
        except (DeliveryError, Deferred) as exc:
            return exc
        except Exception as exc:  # a bug must not lose the job: keep it, retry, say why
            log.exception("job %s (%s) failed unexpectedly", job.id, job.kind)
            return DeliveryError(f"internal error: {exc!r}")

    async def _attempt_batch(self, jobs: list[Job]) -> list[Outcome]:
        assert self._batch is not None
        try:
            outcomes = list(await self._batch.run_batch(jobs))
            if len(outcomes) != len(jobs):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(jobs)} jobs")
        except (DeliveryError, Deferred) as exc:  # the whole call: every job shares it
            return [exc] * len(jobs)
        except Exception as exc:
            log.exception("a batch of %d %s jobs failed unexpectedly", len(jobs), jobs[0].kind)
            return [DeliveryError(f"internal error: {exc!r}")] * len(jobs)
        return outcomes

    async def _record(self, jobs: list[Job], outcomes: list[Outcome]) -> None:
        if len(jobs) == 1:
            await self._settle(jobs[0], outcomes[0])
            return
        # Concurrent writes share one group commit.
        await asyncio.gather(*(self._settle(j, o) for j, o in zip(jobs, outcomes, strict=True)))
        log.info("batch of %d %s jobs settled", len(jobs), jobs[0].kind)

    async def _settle(self, job: Job, outcome: Outcome) -> None:
        if isinstance(outcome, Deferred):
            await self.store.defer_job(job.id, outcome.until, self.clock())
            log.info("job %s (%s) waits: %s", job.id, job.kind, outcome.why)
        elif isinstance(outcome, DeliveryError):
            await self._failed(job, outcome.detail, outcome.permanent, outcome.retry_after)
        elif isinstance(outcome, Done):
            now, done = self.clock(), outcome

            def finish(tx: Transaction) -> None:
                done.record(tx)
                tx.finish_job(job.id, now, done.note)

            await self.store.write(finish)
            log.info("job %s (%s) done: %s", job.id, job.kind, done.note)
        else:
            await self.store.finish_job(job.id, self.clock(), outcome)
            log.info("job %s (%s) done: %s", job.id, job.kind, outcome)

    async def _failed(self, job: Job, detail: str, permanent: bool, retry_after: float | None) -> None:
        now = self.clock()
        if gives_up(job, permanent, self.settings):
            why = "permanent failure" if permanent else f"gave up after {job.attempts} attempts"
            await self.store.kill_job(job.id, f"{why}: {detail}", now)
            metrics.job_failed(job.kind, dead=True)
            log.warning("job %s (%s) is dead: %s", job.id, job.kind, detail)
            return
        delay = backoff(job.attempts, self.settings, retry_after)
        await self.store.reschedule_job(job.id, now + delay, detail, now)
        metrics.job_failed(job.kind, dead=False)
        log.info("job %s (%s) will retry in %.0fs: %s", job.id, job.kind, delay, detail)
