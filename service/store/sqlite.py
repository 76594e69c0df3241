"""The SQLite store: one connection on its own thread, group-committed writes.

Writes are group-committed (service.store.batch): one COMMIT, and one fsync, serves every
operation that arrived while the previous commit was under way. WAL with ``synchronous=FULL``
makes that commit survive a crash or a power cut. A ``busy_timeout`` lets the CLI (``optin
outbox``) work beside a running service. Reads run on the same thread, between batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from service.store import migrate
from service.store.base import BaseStore
from service.store.batch import GroupCommit, Operation, Outcome, run_batch
from service.store.dialect import SQLITE, SqliteConnection, sqlite_connect
from service.store.transaction import Transaction

T = TypeVar("T")


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


class SqliteStore(BaseStore):
    dialect = SQLITE

    def __init__(self, url: str, executor: ThreadPoolExecutor, conn: SqliteConnection) -> None:
        self.url = url
        self._executor = executor
        self._conn = conn
        self._commits = GroupCommit(executor, self._run_batch)

    @classmethod
    async def open(cls, url: str, auto_migrate: bool = True) -> SqliteStore:
        path = sqlite_path(url)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optin-sqlite")
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(executor, sqlite_connect, path)
        try:
            await loop.run_in_executor(executor, migrate.ensure_current, conn, auto_migrate)
        except BaseException:
            await loop.run_in_executor(executor, conn.db.close)
            executor.shutdown(wait=True)
            raise
        return cls(url, executor, conn)

    def _run_batch(self, operations: list[Operation]) -> list[Outcome]:
        return run_batch(self._conn, operations)

    async def close(self) -> None:
        await self._commits.drain()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.db.close)
        self._executor.shutdown(wait=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def read(self, query: Callable[[Transaction], T]) -> T:
        return await self._call(lambda: query(Transaction(self._conn)))

    async def write(self, operation: Callable[[Transaction], T]) -> T:
        return await self._commits.submit(operation)

    def _fetch_sync(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self._conn.execute(sql, params).fetchall()

    async def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return await self._call(self._fetch_sync, sql, tuple(params))

    def listen_for_jobs(self, wake: Callable[[], None]) -> None:
        """Nothing to listen to: the process that queues a job wakes its own worker, and the
        worker's poll finds what another process (``optin outbox retry``) queued."""

    async def schema_version(self) -> int:
        return await self._call(migrate.current_version, self._conn)
