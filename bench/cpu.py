"""Server CPU per request, in one process, without sockets: steadier than wrk on a shared machine.

Each app is driven through uvicorn's own httptools protocol (the production parser and response
path, the access log when ``optin serve`` would write one) on a transport that only collects
what is written; C connections keep one request in flight each. The figure is
``time.process_time`` (every thread of the process: the SQLite thread too) per answered request,
best of the rounds, beside the bare Starlette endpoint measured the same way in the same run.
What it leaves out: the kernel's share of reading and writing sockets, the same for every app.

    .venv/bin/python -m bench.cpu [--requests 20000] [--rounds 3] [--only verify,signup,...]
    .venv/bin/python -m bench.cpu --profile signup      # cProfile of one run, top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bench.serving import DOMAINS
from bench.subscribe import config_text as signup_config
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

PEER = ("127.0.0.1", 50_000)


class Collecting(asyncio.Transport):
    """A transport that keeps nothing: the bytes written are only counted."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": PEER}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Connection(HttpToolsProtocol):
    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.answered.set()

    def start(self) -> None:
        self.answered = asyncio.Event()
        self.connection_made(Collecting())


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1:8000", "Content-Type: application/json", *headers]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def get(path: str, *headers: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1:8000", *headers]) + "\r\n\r\n").encode()


Requests = Callable[[int], bytes]


def verify_requests(i: int) -> bytes:
    return post("/v1/verify", b'{"email":"p%d@%s"}' % (i, DOMAINS[i % len(DOMAINS)].encode()))


def signup_requests(prefix: str) -> Requests:
    def request(i: int) -> bytes:
        body = b'{"email":"%s%d@example.org","consent":true}' % (prefix.encode(), i)
        return post("/v1/forms/newsletter/subscribe", body, "Accept: application/json")

    return request


def config_text(database: str, nameserver: str) -> str:
    return signup_config(database, "http://127.0.0.1:8000", 9, nameserver)  # nothing is mailed here


@dataclass(frozen=True)
class Spent:
    cpu: float  # seconds of CPU per request, every thread
    wall: float  # seconds of wall time per request

    def line(self, name: str, bare: Spent | None) -> str:
        ratio = f"   {bare.cpu / self.cpu:.2f} of bare's rate" if bare else ""
        return f"{name:<18} {self.cpu * 1e6:7.1f} µs CPU/request   {1 / self.wall:7.0f} req/s wall{ratio}"


async def drive(
    app: Any, requests: Requests, total: int, connections: int, start: int = 0, access_log: bool = False
) -> Spent:
    """What ``total`` requests over ``connections`` connections cost."""
    level = "info" if access_log else "warning"
    config = Config(app, log_config=None, log_level=level, proxy_headers=False, server_header=False)
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    protocols = [Connection(config, state, {}, loop) for _ in range(connections)]
    for proto in protocols:
        proto.start()
    per = total // connections

    async def client(k: int, proto: Connection) -> None:
        for n in range(per):
            proto.answered.clear()
            proto.data_received(requests(start + k * per + n))
            await proto.answered.wait()

    began, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(k, p) for k, p in enumerate(protocols)))
    spent = Spent(
        (time.process_time() - began) / (per * connections),
        (time.perf_counter() - wall) / (per * connections),
    )
    for proto in protocols:
        proto.connection_lost(None)
    return spent


def thread_ticks() -> dict[str, int]:
    """CPU clock ticks so far per thread of this process, by thread name (Linux /proc)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks: dict[str, int] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = names.get(int(task.name), "other").rstrip("_0123456789")
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    return ticks


def quiet_access_log() -> None:
    """``optin serve``'s logging (service.logs), writing to /dev/null: the access log is on."""
    from service.logs import configure_logging

    configure_logging()
    devnull = open(os.devnull, "w")  # kept open while the process lives
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


async def main_async(args: argparse.Namespace) -> None:
    from bench.app_runner import without_edge
    from bench.bare import app as bare
    from service.app import create_app
    from service.settings import load_settings

    wanted = set(args.only.split(","))
    quiet_access_log()
    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-cpu-"))
    conf = tmp / "cpu.toml"
    conf.write_text(config_text(f"sqlite:///{tmp / 'cpu.db'}", dns.nameserver), encoding="utf-8")
    settings = load_settings(str(conf))
    apps: dict[str, Any] = {"bare": bare}
    async with AsyncExitStack() as stack:
        for role in ("web",):
            app = create_app(settings, role)
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps["optin"] = app
            stripped = create_app(settings, role)
            without_edge(stripped)
            stripped.state = app.state  # the same services, without the middlewares
            apps["stripped"] = stripped
        # The access log as in the HTTP benches: bench.serving runs uvicorn at log level warning
        # (no access log), bench.replicas runs ``optin serve`` (access log on, to /dev/null).
        runs: dict[str, tuple[Any, Requests, bool]] = {
            "bare": (apps["bare"], signup_requests("bare"), False),
            "verify": (apps["optin"], verify_requests, False),
            "verify-stripped": (apps["stripped"], verify_requests, False),
            "widget": (apps["optin"], lambda i: get("/widget.js", "Accept-Encoding: gzip"), False),
            "signup": (apps["optin"], signup_requests("s"), True),
        }
        runs = {k: v for k, v in runs.items() if args.only == "all" or k in wanted}
        for app, requests, logged in runs.values():  # warm-up: caches, DNS, the database's first pages
            await drive(app, requests, args.warmup, args.connections, 10_000_000, logged)
        if args.profile:
            app, requests, logged = runs[args.profile]
            before = thread_ticks()
            await drive(app, requests, args.requests, args.connections, 30_000_000, logged)
            after = thread_ticks()
            hz = os.sysconf("SC_CLK_TCK")
            for name, ticks in after.items():
                if ticks - before.get(name, 0):
                    print(
                        f"thread {name}: {(ticks - before.get(name, 0)) / hz / args.requests * 1e6:.1f} µs/request"
                    )
            profiler = cProfile.Profile(time.thread_time)  # the CPU this thread spent, not waits
            profiler.enable()
            await drive(app, requests, args.requests, args.connections, 20_000_000, logged)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
            stats.print_stats(args.top)
            if args.callees:
                stats.print_callees(args.callees)
                stats.print_callers(args.callees)
            print(out.getvalue())
            return
        best: dict[str, Spent] = {}
        for r in range(args.rounds):
            for name, (app, requests, logged) in runs.items():
                spent = await drive(
                    app, requests, args.requests, args.connections, (r + 1) * 1_000_000, logged
                )
                if name not in best or spent.cpu < best[name].cpu:
                    best[name] = spent
    dns.stop()
    print(f"cpu bench: {args.requests} requests x {args.rounds} rounds, {args.connections} connections,"
          f" Python {sys.version.split()[0]}, best round")  # fmt: skip
    for name, spent in best.items():
        print(spent.line(name, best.get("bare")))
    if "verify" in best and "verify-stripped" in best:
        share = 1 - best["verify-stripped"].cpu / best["verify"].cpu
        print(f"middlewares: {share * 100:.1f} % of verify's CPU")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2_000, help="requests before the timed ones")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", default="all")
    parser.add_argument("--profile", default="")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--callees", default="", help="with --profile: what functions matching this call")
    args = parser.parse_args()
    uvloop.run(main_async(args))


if __name__ == "__main__":
    main()
