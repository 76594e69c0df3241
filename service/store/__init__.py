"""Storage behind one narrow interface; no SQL lives outside this package.

``sqlite:///PATH`` (the default: one process, one file) or ``postgresql://…`` (shared by several
instances). Both run the same queries (service.store.base, service.store.transaction) and the
same numbered migrations (service.store.migrate).
"""

from __future__ import annotations

from service.errors import ConfigError
from service.store.base import BaseStore
from service.store.records import ConsentEvent, ContactRow, ContactStatus, Job, JobState, NewJob
from service.store.transaction import Transaction

Store = BaseStore

__all__ = [
    "ConsentEvent",
    "ContactRow",
    "ContactStatus",
    "Job",
    "JobState",
    "NewJob",
    "Store",
    "Transaction",
    "is_postgresql",
    "open_store",
]


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


async def open_store(url: str, auto_migrate: bool | None = None) -> Store:
    """Open the database at ``url``, its schema current or a SchemaVersionError saying why not.

    ``auto_migrate`` None means the database's default: migrate SQLite (one process owns the
    file), never PostgreSQL (a deploy runs ``optin migrate`` once, before the new version starts).
    """
    if url.startswith("sqlite:///"):
        from service.store.sqlite import SqliteStore

        return await SqliteStore.open(url, True if auto_migrate is None else auto_migrate)
    if is_postgresql(url):
        from service.store.postgres import PostgresStore

        return await PostgresStore.open(url, False if auto_migrate is None else auto_migrate)
    raise ConfigError(
        f"database {url.split(':', 1)[0]!r} is not supported; use sqlite:///PATH or postgresql://…"
    )
