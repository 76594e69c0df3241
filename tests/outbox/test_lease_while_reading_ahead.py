"""A claimed job's lease is renewed from the claim on, also while the worker reads ahead for it:
on a slow machine that read must not let the lease lapse and another worker run the job too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from service.outbox import OutboxWorker
from service.settings import OutboxSettings
from service.store import Job, NewJob, open_store

LEASE = 0.6


class SlowReader:
    """A runner whose read-ahead takes three leases long (a loaded database thread)."""

    def __init__(self) -> None:
        self.ran: list[int] = []

    async def prepare(self, jobs: Sequence[Job]) -> None:
        await asyncio.sleep(3 * LEASE)

    async def run(self, job: Job) -> str:
        self.ran.append(job.id)
        return "sent"

    def lane(self, job: Job) -> tuple[str, int]:
        return ("mail", 4)


async def test_a_job_claimed_but_still_being_read_ahead_is_not_claimed_by_another_worker(db_url: str) -> None:
    store = await open_store(db_url, auto_migrate=True)
    settings = OutboxSettings(concurrency=4, lease_seconds=LEASE, poll_interval=0.05)
    reader = SlowReader()
    worker = OutboxWorker(store, settings, reader.run, reader.lane, batch=None)
    try:
        await store.write(lambda tx: tx.enqueue(NewJob("confirmation_email", "only-one", {}), 0.0))
        worker.start()
        await asyncio.sleep(2 * LEASE)  # well past the first lease, still reading ahead
        assert await store.claim_jobs(time.time(), 10, LEASE) == []  # another worker finds nothing
        await asyncio.sleep(2 * LEASE)
        assert len(reader.ran) == 1
    finally:
        await worker.stop()
        await store.close()
