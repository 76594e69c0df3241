"""The group commit's queue, with a runner standing in for the database."""

from __future__ import annotations

import asyncio


async def test_an_operation_that_keeps_meeting_a_deadlock_fails_alone() -> None:
    # The group commit's queue, with a runner standing in for the database: the first operation
    # of every batch is stopped by a deadlock; those after it did not run, so their turns are
    # not used up. After its five turns the first fails with the deadlock; the other commits.
    from concurrent.futures import ThreadPoolExecutor

    from service.store.batch import RETRIES, GroupCommit, Operation, Outcome, RunAgain

    class Deadlock(Exception):
        pass

    runs: list[list[str]] = []

    def runner(operations: list[Operation]) -> list[Outcome]:
        names = [op(None) for op in operations]  # type: ignore[arg-type]
        runs.append(names)
        if names[0] == "stuck":
            cause = Deadlock("deadlock detected")
            return [(False, RunAgain(cause))] + [(False, RunAgain(cause, tried=False))] * (len(names) - 1)
        return [(True, name) for name in names]

    with ThreadPoolExecutor(1) as executor:
        commits = GroupCommit(executor, runner)
        stuck, after = await asyncio.gather(
            commits.submit(lambda tx: "stuck"), commits.submit(lambda tx: "after"), return_exceptions=True
        )
    assert isinstance(stuck, Deadlock) and after == "after"
    assert runs[: RETRIES + 1] == [["stuck", "after"]] * (RETRIES + 1) and runs[-1] == ["after"]
