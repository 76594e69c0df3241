"""A sketch, not optin: how far the web side of an "intake" design could go on this stack.

Issue 17's goal 4 (durable signups at 0.35 of the bare endpoint) is out of reach of optin's
signup path, whose database work alone is more than that budget. The design that would move the
most work out of the web process is an intake: the web process checks the request, commits one
row, answers 202, and a worker does the rest (limits, contact, ledger, confirmation, job). This
bench measures the most that design could give, beside bare and beside optin as it is, in one
run: ``optin serve --role web`` with everything a signup does on the event loop left in place
(edge, fields, verification, evidence, code handle, access log), but the database operation
replaced by one 400-byte row in a table of its own. It is an upper bound for the intake design,
not a figure of optin: the loop still does some work that design would hand to the worker.

    .venv/bin/python -m bench.intake_sketch [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import wrk
from bench.replicas import config, launch, stop
from bench.subscribe import PATH
from tests.support.app_server import free_port
from tests.support.db import rows
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

ROW = "x" * 400  # about what a signup's fields and evidence take as one JSON row


class IntakeOnly:
    """The store as the signup service sees it, each signup's write one intake row instead."""

    def __init__(self, store: Any) -> None:
        self._store = store

    async def write(self, operation: Any) -> bool:
        now = time.time()
        await self._store.write(
            lambda tx: tx.execute("INSERT INTO bench_intake (at, row) VALUES (?, ?)", (now, ROW))
        )
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def serve(conf: str, port: int) -> None:
    """The child: ``optin serve --role web`` as serve.py runs it, intake writes patched in."""
    import uvicorn

    from service import signup
    from service.app import create_app
    from service.logs import configure_logging
    from service.settings import load_settings

    settings = load_settings(conf)
    path = settings.server.database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS bench_intake (id INTEGER PRIMARY KEY, at REAL, row TEXT)")
    real_init = signup.SignupService.__init__

    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        self.store = IntakeOnly(self.store)

    signup.SignupService.__init__ = patched  # type: ignore[method-assign]
    configure_logging(log_format=settings.server.log_format)
    uvicorn.Server(
        uvicorn.Config(
            create_app(settings, "web"), host="127.0.0.1", port=port, log_level="info",
            server_header=False, log_config=None, proxy_headers=False,
        )
    ).run()  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
        return
    args = wrk.arguments("the web side of an intake design beside bare and optin")
    wrk.available()
    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-intake-"))
    sink_port = free_port()  # nothing listens: role web mails nothing
    optin, sketch = "optin signups (role web)", "intake sketch"
    ports = {"bare": free_port(), optin: free_port(), sketch: free_port()}
    confs = {
        name: config(tmp / f"{i}.toml", f"sqlite:///{tmp / f'{i}.db'}", port, sink_port, dns.nameserver)
        for i, (name, port) in enumerate(ports.items())
    }
    procs = [
        launch(["-m", "uvicorn", "--log-level", "warning", "--port", str(ports["bare"]), "bench.bare:app"],
               ports["bare"], "/"),
        launch(["-m", "service", "--config", str(confs[optin]), "serve", "--role", "web",
                "--port", str(ports[optin])], ports[optin], "/readyz"),
        launch(["-m", "bench.intake_sketch", "serve", str(confs[sketch]), str(ports[sketch])],
               ports[sketch], "/readyz"),
    ]  # fmt: skip
    try:
        best, _ = wrk.signups_in_rounds(
            {name: f"http://127.0.0.1:{port}{PATH}" for name, port in ports.items()}, PATH, args
        )
    finally:
        stop(*procs)
        dns.stop()
    bare = best["bare"]
    print(wrk.header("intake sketch", args))
    for name, run in best.items():
        print(f"{run.line(name)}   ratio to bare: {run.rate / bare.rate:.2f}   p99 x{run.p99 / bare.p99:.1f}"
              f"   errors: {run.errors}")  # fmt: skip
    [(kept,)] = rows(f"sqlite:///{tmp / '2.db'}", "SELECT count(*) FROM bench_intake")
    print(f"intake rows kept: {kept}")


if __name__ == "__main__":
    main()
