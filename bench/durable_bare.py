"""The ceiling for a durable write on this stack: bench/bare.py's endpoint, plus one row per
request committed to SQLite before the answer (WAL, synchronous=FULL, group commit: one thread
commits whatever queued while it was busy, as optin's store does), and nothing else.

Issue 17's goal 4 asks durable signups at 0.35 of the bare endpoint, which writes nothing. This
measures what writing alone costs, beside that bare endpoint in the same run, so that a signup's
figure can be read against both: no design that commits each signup before answering can pass
this one. Not optin: no verification, limits, ledger, outbox, log line or security headers.

    .venv/bin/python -m bench.durable_bare [--seconds 5] [--rounds 3]      (the bench)
    uvicorn bench.durable_bare:app                                          (the app alone)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench import wrk
from bench.replicas import launch, stop
from tests.support.app_server import free_port
from tests.support.db import rows

PATH = "/v1/forms/x/subscribe"
Pending = tuple[str, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class GroupCommit:
    """One thread, one connection: each commit takes every row queued while the last one ran."""

    def __init__(self, path: str) -> None:
        self.queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS signups (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
        self.thread = threading.Thread(target=self._run, name="durable-bare", daemon=True)
        self.thread.start()

    async def write(self, email: str) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self.queue.put((email, loop, done))
        await done

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.db.close()

    def _run(self) -> None:
        while (first := self.queue.get()) is not None:
            batch = [first]
            while True:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO signups (email) VALUES (?)", [(e,) for e, _, _ in batch])
            self.db.execute("COMMIT")
            loop = batch[0][1]
            loop.call_soon_threadsafe(_settle, [done for _, _, done in batch])


def _settle(futures: list[asyncio.Future[None]]) -> None:
    for done in futures:
        if not done.done():
            done.set_result(None)


def database_path() -> str:
    return os.environ.get("DURABLE_BARE_DB", str(Path(tempfile.gettempdir()) / "durable-bare.db"))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.commits = GroupCommit(database_path())
    yield
    app.state.commits.close()


async def accept(request: Request) -> JSONResponse:
    data = await request.json()
    await request.app.state.commits.write(str(data.get("email", "")))
    return JSONResponse({"status": "accepted", "email": bool(data.get("email"))}, status_code=202)


app = Starlette(routes=[Route(PATH, accept, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    wrk.available()
    db = Path(tempfile.mkdtemp(prefix="optin-durable-bare-")) / "durable.db"
    os.environ["DURABLE_BARE_DB"] = str(db)  # the child reads it
    ports = {"bare": free_port(), "durable": free_port()}
    uvicorn = ["-m", "uvicorn", "--log-level", "warning", "--port"]
    procs = [
        launch([*uvicorn, str(ports["bare"]), "bench.bare:app"], ports["bare"], "/"),
        launch([*uvicorn, str(ports["durable"]), "bench.durable_bare:app"], ports["durable"], "/"),
    ]
    best: dict[str, wrk.Run] = {}
    answered = 0
    try:
        for round_ in range(args.rounds + 1):  # a warm-up round, then interleaved rounds
            for name, port in ports.items():
                time.sleep(0.5)
                run = wrk.run(
                    f"http://127.0.0.1:{port}{PATH}",
                    args.seconds if round_ else 3,
                    args.connections,
                    script=wrk.signups(f"{name}{round_}-", PATH),
                )
                answered += run.requests if name == "durable" else 0
                if round_ and (name not in best or run.rate > best[name].rate):
                    best[name] = run
    finally:
        stop(*procs)
    [(stored,)] = rows(f"sqlite:///{db}", "SELECT count(*) FROM signups")
    bare = best["bare"]
    print(f"durable ceiling: best of {args.rounds} rounds of {args.seconds:g} s, {args.connections} connections,"
          f" wrk -t1, {os.cpu_count()} cores, Python {sys.version.split()[0]}")  # fmt: skip
    for name, run in best.items():
        print(f"{run.line(name)}   ratio to bare: {run.rate / bare.rate:.2f}   p99 x{run.p99 / bare.p99:.1f}")
    print(f"stored {stored} rows for {answered} answered 202")
    if stored < answered:
        raise SystemExit("some answered requests were not stored")


if __name__ == "__main__":
    main()
