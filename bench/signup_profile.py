"""Where a durable signup's CPU goes: microseconds per signup on each thread, and profiles.

Runs ``optin serve`` as production does (uvicorn with uvloop and httptools, the access log on,
one process, SQLite in WAL with synchronous=FULL, or a durable PostgreSQL cluster it starts), feeds it
signups from wrk, and reads each thread's CPU clock before and after
(``time.pthread_getcpuclockid``, through a route only this runner adds). The event loop (MainThread)
and the database threads (optin-sqlite, optin-pg) are told apart by name. With ``--profile``, cProfile records the event loop
thread and the database thread (each batch) apart, and the top of each is printed.

    .venv/bin/python -m bench.signup_profile [--seconds 10] [--role all|web] [--profile]
        [--postgresql]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from bench import wrk
from bench.replicas import config, launch, stop
from bench.subscribe import PATH, Sink
from tests.support.app_server import free_port
from tests.support.postgres import Cluster, binaries
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

CPU_PATH = "/_bench/cpu"


def thread_cpu() -> dict[str, float]:
    """CPU seconds each live thread has used, by name (the event loop is MainThread)."""
    found: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            clock = time.pthread_getcpuclockid(thread.ident)
            found[thread.name] = found.get(thread.name, 0.0) + time.clock_gettime(clock)
        except OSError:
            continue
    return found


def serve(conf: str, port: int, role: str, profile: str | None) -> None:
    """The server side (a child process): ``optin serve`` plus the CPU route."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    import service.store.postgres as postgres_store
    import service.store.sqlite as sqlite_store
    from service.app import create_app
    from service.logs import configure_logging
    from service.settings import load_settings

    async def cpu(request: Request) -> JSONResponse:
        return JSONResponse(thread_cpu())

    # Each thread's own CPU clock: time spent waiting for the GIL or the disk is not counted.
    loop_profile = cProfile.Profile(time.thread_time)
    db_profiles: dict[int, cProfile.Profile] = {}  # one per database thread (PostgreSQL has several)
    if profile:
        for module in (sqlite_store, postgres_store):
            real = module.run_batch

            def profiled(conn: Any, operations: Any, real: Any = real) -> Any:
                mine = db_profiles.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))
                return mine.runcall(real, conn, operations)

            module.run_batch = profiled  # type: ignore[attr-defined]
    settings = load_settings(conf)
    app = create_app(settings, role)  # type: ignore[arg-type]
    app.router.routes.insert(0, Route(CPU_PATH, cpu))
    configure_logging(log_format=settings.server.log_format)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="info", server_header=False, log_config=None,
            proxy_headers=False,
        )
    )  # fmt: skip
    if profile:
        # uvicorn raises the SIGTERM it caught again once stopped: let it pass, to save the profiles.
        signal.signal(signal.SIGTERM, lambda *_: None)
        loop_profile.runcall(server.run)
        loop_profile.dump_stats(f"{profile}.loop")
        merged = pstats.Stats(*db_profiles.values()) if db_profiles else None
        if merged:
            merged.dump_stats(f"{profile}.db")
    else:
        server.run()


def top(path: str, sort: str, count: int) -> str:
    out = io.StringIO()
    pstats.Stats(path, stream=out).strip_dirs().sort_stats(sort).print_stats(count)
    return out.getvalue()


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--role", default="all", choices=("all", "web"))
    parser.add_argument(
        "--postgresql", action="store_true", help="on a durable PostgreSQL cluster of its own"
    )
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    wrk.available()
    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    sink, sink_port = Sink(), free_port()
    catcher = Controller(sink, hostname="127.0.0.1", port=sink_port)
    catcher.start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-profile-"))
    port = free_port()
    cluster = Cluster(binaries(), settings=()).start() if args.postgresql else None  # type: ignore[arg-type]
    database = cluster.new_database() if cluster else f"sqlite:///{tmp / 'bench.db'}"
    conf = config(tmp / "bench.toml", database, port, sink_port, dns.nameserver)
    profile = str(tmp / "prof") if args.profile else None
    argv = ["-m", "bench.signup_profile", "serve", str(conf), str(port), args.role]
    proc = launch([*argv, profile] if profile else argv, port, "/readyz")
    url = f"http://127.0.0.1:{port}"
    try:
        wrk.run(url + PATH, 3, args.connections, script=wrk.signups("warm-", PATH))
        before = httpx.get(url + CPU_PATH).json()
        run = wrk.run(url + PATH, args.seconds, args.connections, script=wrk.signups("run-", PATH))
        after = httpx.get(url + CPU_PATH).json()
    finally:
        stop(proc)
        catcher.stop()
        dns.stop()
        if cluster:
            cluster.stop()
    print(run.line(f"optin signups ({'PostgreSQL' if cluster else 'SQLite'}, role {args.role})"))
    print(f"errors: {run.errors}; emails the sink received: {sink.count}")
    signups = max(run.requests, 1)
    for name in sorted(after, key=lambda n: after[n] - before.get(n, 0.0), reverse=True):
        used = after[name] - before.get(name, 0.0)
        if used > 0.001:
            print(f"  {name:<28} {used / signups * 1e6:8.1f} CPU-µs per signup   ({used:.2f} s)")
    if profile:
        for part in ("loop", "db"):
            print(f"\n=== {part}: by own time ===\n{top(f'{profile}.{part}', 'tottime', args.top)}")
            print(f"=== {part}: cumulative ===\n{top(f'{profile}.{part}', 'cumulative', args.top)}")


if __name__ == "__main__":
    main()
