"""The ceiling for a durable write on this stack: bench/bare.py's endpoint, plus one row per
request committed to SQLite before the answer (WAL, synchronous=FULL, group commit: one thread
commits whatever queued while it was busy, as optin's store does), and nothing else.

Issue 17's goal 4 asks durable signups at 0.35 of the bare endpoint, which writes nothing. This
measures what writing alone costs, beside that bare endpoint in the same run, so that a signup's
figure can be read against both: no design that commits each signup before answering can pass
this one. Not optin: no verification, limits, ledger, outbox, log line or security headers.

    .venv/bin/python -m bench.durable_bare [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import sys
import tempfile
import threading
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
            failed: Exception | None = None
            try:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT INTO signups (email) VALUES (?)", [(e,) for e, _, _ in batch])
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:  # a full disk, say: every request of the batch fails
                failed = exc
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
            batch[0][1].call_soon_threadsafe(_settle, [done for _, _, done in batch], failed)


def _settle(futures: list[asyncio.Future[None]], failed: Exception | None) -> None:
    for done in futures:
        if done.done():
            continue
        if failed is None:
            done.set_result(None)
        else:
            done.set_exception(failed)


def durable_app(database: str) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.commits = GroupCommit(database)
        yield
        app.state.commits.close()

    async def accept(request: Request) -> JSONResponse:
        data = await request.json()
        await request.app.state.commits.write(str(data.get("email", "")))
        return JSONResponse({"status": "accepted", "email": bool(data.get("email"))}, status_code=202)

    return Starlette(routes=[Route(PATH, accept, methods=["POST"])], lifespan=lifespan)


def serve(database: str, port: int) -> None:
    """The child: the durable endpoint under uvicorn, as bench.bare runs (uvloop, httptools)."""
    import uvicorn

    uvicorn.run(durable_app(database), host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
        return
    args = wrk.arguments("a durable write beside the bare endpoint")
    wrk.available()
    db = Path(tempfile.mkdtemp(prefix="optin-durable-bare-")) / "durable.db"
    ports = {"bare": free_port(), "durable": free_port()}
    procs = [
        launch(["-m", "uvicorn", "--log-level", "warning", "--port", str(ports["bare"]), "bench.bare:app"],
               ports["bare"], "/"),
        launch(["-m", "bench.durable_bare", "serve", str(db), str(ports["durable"])], ports["durable"], "/"),
    ]  # fmt: skip
    try:
        best, answered = wrk.signups_in_rounds(
            {name: f"http://127.0.0.1:{port}{PATH}" for name, port in ports.items()}, PATH, args
        )
    finally:
        stop(*procs)
    [(stored,)] = rows(f"sqlite:///{db}", "SELECT count(*) FROM signups")
    bare = best["bare"]
    print(wrk.header("durable ceiling", args))
    for name, run in best.items():
        print(f"{run.line(name)}   ratio to bare: {run.rate / bare.rate:.2f}   p99 x{run.p99 / bare.p99:.1f}")
    print(f"stored {stored} rows for {answered['durable']} answered 202")
    if stored < answered["durable"]:
        raise SystemExit("some answered requests were not stored")


if __name__ == "__main__":
    main()
