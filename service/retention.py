"""Housekeeping: never-confirmed contacts are purged after ``server.retention_days``, finished jobs
after ``outbox.keep_done_days``, expired counters and single-use keys once they are useless.

Everything goes a few dozen rows at a time, each round its own short write, so signups that
arrive meanwhile wait for one round at most, never for the whole purge, however large.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from service.limits import KEEP_SECONDS
from service.settings import Settings
from service.store import Store, Transaction
from service.store.audit import forget_signouts

log = logging.getLogger("optin.retention")
DAY = 86_400.0
ROUND = 100  # rows per round: a round takes a few milliseconds even on a large database


async def _in_rounds(store: Store, step: Callable[[Transaction], int]) -> int:
    total = 0
    while True:
        done = await store.write(step)
        total += done
        if done == 0:
            return total
        await asyncio.sleep(0)  # let waiting requests in between rounds


async def purge(store: Store, settings: Settings, now: float) -> int:
    """Delete what retention allows; returns how many never-confirmed contacts went."""
    cutoff = now - settings.server.retention_days * DAY
    jobs_cutoff = now - settings.outbox.keep_done_days * DAY
    contacts = await _in_rounds(store, lambda tx: tx.purge_unconfirmed(cutoff, ROUND))
    jobs = await _in_rounds(store, lambda tx: tx.purge_finished_jobs(jobs_cutoff, ROUND))
    await _in_rounds(store, lambda tx: tx.purge_counters(now, KEEP_SECONDS, ROUND))
    await _in_rounds(store, lambda tx: forget_signouts(tx, now, ROUND))
    if contacts or jobs:
        log.info("retention: purged %d never-confirmed contact(s) and %d finished job(s)", contacts, jobs)
    return contacts


async def purge_every(store: Store, settings: Settings, interval: float = 3600.0) -> None:
    while True:
        with contextlib.suppress(Exception):
            await purge(store, settings, time.time())
        await asyncio.sleep(interval)
