"""Storage behind one narrow interface; no SQL lives outside this package."""

from __future__ import annotations

from service.errors import ConfigError
from service.store.records import ConsentEvent, ContactRow, ContactStatus, Job, JobState, NewJob
from service.store.sqlite import SqliteStore
from service.store.transaction import Transaction

Store = SqliteStore

__all__ = [
    "ConsentEvent",
    "ContactRow",
    "ContactStatus",
    "Job",
    "JobState",
    "NewJob",
    "Store",
    "Transaction",
    "open_store",
]


async def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        return await SqliteStore.open(url)
    raise ConfigError(f"database {url.split(':', 1)[0]!r} is not supported yet; use sqlite:///PATH")
