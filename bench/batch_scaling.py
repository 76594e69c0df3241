"""CPU per operation of one group-commit batch as the batch grows (SQLite, durable).

Each operation counts what a signup counts in the database: the form's and the visitor's
hourly limits and the address's email budget. A burst of queued signups becomes one large
batch (SQLite's batches are not capped), so the cost per operation should not grow with the
batch: the ceiling is the small batch's own figure, measured in the same run. Best of 3
batches per size, each on fresh keys.

    .venv/bin/python -m bench.batch_scaling [--sizes 30,1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from service.limits import allow_confirmation_email, check_request
from service.settings import LimitSettings
from service.store import open_store
from service.store.batch import run_batch
from service.store.dialect import sqlite_connect
from service.store.transaction import Transaction

LIMITS = LimitSettings(signups_per_form_hour=10**9)  # counted, never reached: every operation passes


async def _migrated(url: str) -> None:
    store = await open_store(url)
    await store.close()


def _signup_counts(i: int, now: float) -> Callable[[Transaction], bool]:
    def operation(tx: Transaction) -> bool:
        check_request(tx, LIMITS, "news", f"198.51.{i // 250 % 250}.{i % 250}", now)
        return allow_confirmation_email(tx, LIMITS, f"address-{i}", now)

    return operation


def per_operation(size: int) -> float:
    """Best CPU-µs per operation over three batches of ``size``."""
    path = Path(tempfile.mkdtemp(prefix="optin-batch-")) / "batch.db"
    asyncio.run(_migrated(f"sqlite:///{path}"))
    conn = sqlite_connect(str(path))
    now, best = time.time(), float("inf")
    for round_ in range(4):  # the first warms the statement cache, as a running service's is
        operations = [_signup_counts(round_ * size + i, now) for i in range(size)]
        started = time.process_time()
        run_batch(conn, operations)
        if round_:
            best = min(best, time.process_time() - started)
    conn.db.close()
    return best / size * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="30,1000,10000")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    figures = {size: per_operation(size) for size in sizes}
    for size, micros in figures.items():
        print(
            f"batch of {size:5}: {micros:6.1f} CPU-µs per operation   x{micros / figures[sizes[0]]:.2f} of the smallest"
        )


if __name__ == "__main__":
    main()
