"""Group commit: operations that arrive together share one transaction and one COMMIT.

Every write (a signup, a confirmation, a job's outcome) is an *operation*: a function of a
:class:`Transaction`. Operations that arrive while a commit is under way join the next batch,
which runs on a database thread, each operation inside its own savepoint, and ends in one
COMMIT; a caller is answered only after that COMMIT. One operation failing rolls back only its
own savepoint. On PostgreSQL, an operation that lost a race to another instance (a unique
violation) is rolled back to its savepoint and run again, up to a few times; one caught in a
deadlock ends its batch early: what ran before it is committed, and it and the operations after
it are queued again, first in line, up to a few times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from service.store.dialect import Connection
from service.store.transaction import Transaction

T = TypeVar("T")
Operation = Callable[[Transaction], Any]
Outcome = tuple[bool, Any]  # (True, result) or (False, the exception the operation raised)
RETRIES = 5


class RunAgain(Exception):
    """The outcome of an operation to run again in the next batch: ``cause`` stopped it here
    (``tried``), or stopped one before it in the batch, and it did not run."""

    def __init__(self, cause: BaseException, tried: bool = True) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.tried = tried


class _Savepoints:
    """BEGIN, and each operation's SAVEPOINT, RELEASE or ROLLBACK TO. Where statements can be
    joined (PostgreSQL, where each is a network round trip), those that need no answer before
    the next one (BEGIN, the RELEASE that ends an operation) wait, and go with the next
    SAVEPOINT: one round trip between two operations instead of two. The last RELEASE is left
    to the COMMIT, which releases every savepoint."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._joins = conn.dialect.joins_statements
        self._held: list[str] = []

    def later(self, sql: str) -> None:
        if self._joins:
            self._held.append(sql)
        else:
            self._conn.execute(sql)

    def now(self, sql: str) -> None:
        if self._held:
            sql = "; ".join([*self._held, sql])
            self._held = []
        self._conn.execute(sql)

    def settle(self) -> None:
        """Send what is held but BEGIN's savepoint releases (before the batch's own writes)."""
        held = [sql for sql in self._held if sql != _RELEASE]
        self._held = []
        if held:
            self._conn.execute("; ".join(held))


_RELEASE = "RELEASE SAVEPOINT op"


def _run_one(
    savepoints: _Savepoints,
    tx: Transaction,
    operation: Operation,
    retry_on: tuple[type[Exception], ...],
    yield_on: tuple[type[Exception], ...],
) -> Outcome:
    for attempt in range(RETRIES):
        savepoints.now("SAVEPOINT op")
        mark = tx.mark()
        try:
            result = operation(tx)
        except yield_on as exc:
            savepoints.now("ROLLBACK TO SAVEPOINT op")
            savepoints.later(_RELEASE)
            tx.rollback_to(mark)
            return False, RunAgain(exc)
        except retry_on as exc:
            savepoints.now("ROLLBACK TO SAVEPOINT op")
            savepoints.later(_RELEASE)
            tx.rollback_to(mark)
            if attempt == RETRIES - 1:
                return False, exc
            continue
        except Exception as exc:
            savepoints.now("ROLLBACK TO SAVEPOINT op")
            savepoints.later(_RELEASE)
            tx.rollback_to(mark)
            return False, exc
        savepoints.later(_RELEASE)
        return True, result
    raise AssertionError("unreachable")


def run_batch(conn: Connection, operations: list[Operation]) -> list[Outcome]:
    """Run ``operations`` in one transaction on ``conn`` (a database thread); then COMMIT."""
    tx = Transaction(conn)
    savepoints = _Savepoints(conn)
    retry_on, yield_on = conn.dialect.retry_on, conn.dialect.yield_on
    try:
        savepoints.later(conn.dialect.begin)
        outcomes: list[Outcome] = []
        for operation in operations:
            outcome = _run_one(savepoints, tx, operation, retry_on, yield_on)
            outcomes.append(outcome)
            if isinstance(outcome[1], RunAgain):  # commit what ran; the rest go in the next batch
                outcomes += [(False, RunAgain(outcome[1].cause, tried=False))] * (
                    len(operations) - len(outcomes)
                )
                break
        savepoints.settle()
        tx.flush()
        conn.execute("COMMIT")
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except Exception:  # noqa: S110 (the connection itself may be gone; the first error is the one to report)
            pass
        raise
    return outcomes


class GroupCommit:
    """Queues operations and runs them in batches with ``runner`` on ``executor``.

    ``inflight`` batches may run at once (1 for SQLite's single writer; a few on PostgreSQL,
    where one batch waiting on another instance's lock must not hold up every other write).
    ``max_batch`` caps a batch: each operation's savepoint is a PostgreSQL subtransaction, and a
    transaction with more than 64 of them slows every other session's snapshots.
    """

    def __init__(
        self,
        executor: Executor,
        runner: Callable[[list[Operation]], list[Outcome]],
        inflight: int = 1,
        max_batch: int | None = None,
    ) -> None:
        self._executor = executor
        self._runner = runner
        self._inflight = inflight
        self._max_batch = max_batch
        self._queue: list[tuple[Operation, asyncio.Future[Any], int]] = []  # with times run again
        self._active = 0  # flushers running; counted inside them, so none can end unseen
        self._flushers: set[asyncio.Task[None]] = set()

    async def submit(self, operation: Callable[[Transaction], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((operation, future, 0))
        if self._active < self._inflight:
            self._active += 1
            task = asyncio.create_task(self._flush())
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                cut = len(self._queue) if self._max_batch is None else self._max_batch
                batch, self._queue = self._queue[:cut], self._queue[cut:]
                try:
                    ops = [op for op, _, _ in batch]
                    outcomes = await loop.run_in_executor(self._executor, self._runner, ops)
                except Exception as exc:  # the COMMIT itself failed: nothing in the batch happened
                    outcomes = [(False, exc)] * len(batch)
                again = []
                for (op, future, runs), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(value, RunAgain):
                        if not value.tried:  # it never ran: its turns are not used up
                            again.append((op, future, runs))
                        elif runs < RETRIES:
                            again.append((op, future, runs + 1))
                        else:
                            future.set_exception(value.cause)
                    elif ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                self._queue = again + self._queue  # first in line: they were submitted first
        finally:
            self._active -= 1

    async def drain(self) -> None:
        """Wait for every queued operation to be committed (or to fail)."""
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)
