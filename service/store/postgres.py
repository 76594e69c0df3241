"""The PostgreSQL store: the shared database of several optin instances (web and worker roles).

psycopg 3 with its connection pool, on a few threads: writes are group-committed exactly as on
SQLite (service.store.batch), with up to ``INFLIGHT`` batches at once so that one batch waiting
on another instance's lock does not hold up every write; reads take their own connection.
Everything instances must agree on lives here: outbox leases (claimed with ``FOR UPDATE SKIP
LOCKED``), rate limits and budgets (taken under advisory locks), single-use keys, connector
health, the remembered SMTP port.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from service.errors import StoreError
from service.store import migrate
from service.store.base import BaseStore
from service.store.batch import GroupCommit, Operation, Outcome, run_batch
from service.store.dialect import JOBS_CHANNEL, Dialect, PgConnection, describe, postgresql_dialect
from service.store.transaction import Transaction

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

log = logging.getLogger("optin.store")
T = TypeVar("T")
POOL_SIZE = 8
INFLIGHT = 4
MAX_BATCH = 48  # < 64 subtransactions per transaction (see service.store.batch)
CONNECT_TIMEOUT = 10.0


def _first_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresStore(BaseStore):
    def __init__(
        self, url: str, pool: ConnectionPool[Any], executor: ThreadPoolExecutor, dialect: Dialect
    ) -> None:
        self.url = url
        self.dialect = dialect
        self._pool = pool
        self._executor = executor
        self._commits = GroupCommit(executor, self._run_batch, inflight=INFLIGHT, max_batch=MAX_BATCH)
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    @classmethod
    async def open(cls, url: str, auto_migrate: bool = False, pool_size: int = POOL_SIZE) -> PostgresStore:
        executor = ThreadPoolExecutor(max_workers=pool_size + 1, thread_name_prefix="optin-pg")
        loop = asyncio.get_running_loop()
        try:
            pool, dialect = await loop.run_in_executor(executor, _open_pool, url, pool_size)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        store = cls(url, pool, executor, dialect)
        try:
            await store._call_with_connection(lambda conn: migrate.ensure_current(conn, auto_migrate))
        except BaseException:
            await store.close()
            raise
        return store

    def _run_batch(self, operations: list[Operation]) -> list[Outcome]:
        with self._pool.connection() as conn:
            return run_batch(PgConnection(conn, self.dialect), operations)

    def _with_connection(self, fn: Callable[[PgConnection], T]) -> T:
        with self._pool.connection() as conn:
            return fn(PgConnection(conn, self.dialect))

    async def _call_with_connection(self, fn: Callable[[PgConnection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._with_connection, fn)

    async def write(self, operation: Callable[[Transaction], T]) -> T:
        return await self._commits.submit(operation)

    async def read(self, query: Callable[[Transaction], T]) -> T:
        return await self._call_with_connection(lambda conn: query(Transaction(conn)))

    async def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        values = tuple(params)
        return await self._call_with_connection(lambda conn: conn.execute(sql, values).fetchall())

    async def schema_version(self) -> int:
        return await self._call_with_connection(migrate.current_version)

    def listen_for_jobs(self, wake: Callable[[], None]) -> None:
        """LISTEN on its own connection and thread: a web instance's signup wakes a worker at once."""
        loop = asyncio.get_running_loop()
        self._listener = threading.Thread(
            target=_listen, args=(self.url, self._stop, lambda: loop.call_soon_threadsafe(wake)), daemon=True
        )
        self._listener.start()

    async def close(self) -> None:
        self._stop.set()
        await self._commits.drain()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._pool.close)
        self._executor.shutdown(wait=True)


def _open_pool(url: str, size: int) -> tuple[ConnectionPool[Any], Dialect]:
    import psycopg
    from psycopg_pool import ConnectionPool

    try:
        # One direct connection first: the pool would only say "timed out", libpq says why.
        psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT)).close()
    except psycopg.Error as exc:
        raise StoreError(f"cannot use the database {describe(url)}: {_first_reason(exc)}") from None
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
        open=False,
        name="optin",
    )
    pool.open(wait=True, timeout=CONNECT_TIMEOUT)
    return pool, postgresql_dialect()


def _listen(url: str, stop: threading.Event, wake: Callable[[], None]) -> None:
    """Wake the worker on each NOTIFY; reconnect after a lost connection (polling covers the gap)."""
    import psycopg

    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT)) as conn:
                conn.execute(f"LISTEN {JOBS_CHANNEL}")
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake()
        except Exception as exc:
            if stop.is_set():
                return
            log.warning(
                "lost the job notifications from %s (%s); polling until they are back", describe(url), exc
            )
            stop.wait(2.0)
