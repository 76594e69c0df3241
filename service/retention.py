"""Retention: never-confirmed contacts and their personal data are purged after N days."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from service.limits import KEEP_SECONDS
from service.settings import Settings
from service.store import Store, Transaction

log = logging.getLogger("optin.retention")
DAY = 86_400.0


async def purge(store: Store, settings: Settings, now: float) -> int:
    """Delete pending contacts older than the retention period, and expired counters."""
    cutoff = now - settings.server.retention_days * DAY

    def run(tx: Transaction) -> int:
        tx.purge_counters(now, KEEP_SECONDS)
        return tx.purge_unconfirmed(cutoff)

    count = await store.write(run)
    if count:
        log.info("retention: purged %d never-confirmed contact(s)", count)
    return count


async def purge_every(store: Store, settings: Settings, interval: float = 3600.0) -> None:
    while True:
        with contextlib.suppress(Exception):
            await purge(store, settings, time.time())
        await asyncio.sleep(interval)
