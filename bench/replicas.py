"""Accepted durable signups per second on PostgreSQL with 1, 2 and 4 web processes, beside SQLite
with 1 process and the bare Starlette endpoint with the same process counts, in one run.

Every optin figure includes what a signup costs: verification (warm DNS cache from a loopback
zone), the per-form limit and per-address budget, the consent ledger and the outbox job, committed
durably (PostgreSQL with fsync and synchronous_commit on, as shipped; SQLite in WAL with
synchronous=FULL), and one worker process (``--role worker``) mailing the confirmations to an SMTP
sink during the run, as production does. SQLite runs one ``--role all`` process, its worker inside.
The bare endpoint runs with uvicorn ``--workers N``; optin with ``serve --workers N``: the same
process model, the same load generator, the same requests, each side warmed first.

    .venv/bin/python -m bench.replicas [--seconds 10] [--concurrency 64] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from bench import wrk
from bench.subscribe import PATH, REPO, Sink, config_text
from tests.support.app_server import free_port
from tests.support.db import rows
from tests.support.postgres import Cluster, binaries
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone


def launch(args: list[str], port: int, ready: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code < 500:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{args} did not start")


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(60)


def config(path: Path, database: str, port: int, sink: int, nameserver: str) -> Path:
    path.write_text(config_text(database, f"http://127.0.0.1:{port}", sink, nameserver), encoding="utf-8")
    return path


def measure(port: int, label: str, seconds: float, concurrency: int) -> tuple[wrk.Run, int]:
    """Warm up, then the best of two runs; each request a new address (a fresh signup). Also
    returns how many requests were answered in all, to check against what was stored."""
    url = f"http://127.0.0.1:{port}{PATH}"
    runs = [wrk.run(url, 3, concurrency, script=wrk.signups(f"warm{label}-", PATH))]
    runs += [wrk.run(url, seconds, concurrency, script=wrk.signups(f"{label}r{i}-", PATH)) for i in range(2)]
    if any(r.errors for r in runs):
        raise SystemExit(f"{label}: {sum(r.errors for r in runs)} requests were not accepted")
    return max(runs[1:], key=lambda r: r.rate), sum(r.requests for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    found = binaries()
    if found is None:
        raise SystemExit("PostgreSQL's server binaries are needed (Debian: apt install postgresql)")
    wrk.available()

    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    sink = Sink()
    sink_port = free_port()
    catcher = Controller(sink, hostname="127.0.0.1", port=sink_port)
    catcher.start()
    # Durable, as a real server: fsync, synchronous_commit and full_page_writes at their defaults.
    cluster = Cluster(found, settings=()).start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-bench-"))
    results: list[tuple[str, int, wrk.Run]] = []
    stored: dict[str, tuple[int, int]] = {}
    try:
        for n in counts:
            port = free_port()
            bare = launch(
                [
                    "-m",
                    "uvicorn",
                    "bench.bare:app",
                    "--port",
                    str(port),
                    "--workers",
                    str(n),
                    "--log-level",
                    "warning",
                ],
                port,
                "/",
            )
            try:
                results.append(
                    ("bare Starlette JSON", n, measure(port, f"bare{n}", args.seconds, args.concurrency)[0])
                )
            finally:
                stop(bare)

            database = cluster.new_database()
            web_port, worker_port = free_port(), free_port()
            conf = config(tmp / f"pg{n}.toml", database, web_port, sink_port, dns.nameserver)
            base = ["-m", "service", "--config", str(conf), "serve"]
            worker = launch([*base, "--role", "worker", "--port", str(worker_port)], worker_port, "/readyz")
            web = launch(
                [*base, "--role", "web", "--port", str(web_port), "--workers", str(n)], web_port, "/readyz"
            )
            try:
                best, total = measure(web_port, f"pg{n}", args.seconds, args.concurrency)
                results.append(("optin on PostgreSQL", n, best))
            finally:
                stop(web, worker)
            [(count,)] = rows(database, "SELECT count(*) FROM contacts")
            stored[f"PostgreSQL x{n}"] = (int(count), total)

        sqlite_port = free_port()
        conf = config(
            tmp / "sqlite.toml", f"sqlite:///{tmp / 'bench.db'}", sqlite_port, sink_port, dns.nameserver
        )
        solo = launch(
            ["-m", "service", "--config", str(conf), "serve", "--port", str(sqlite_port)],
            sqlite_port,
            "/readyz",
        )
        try:
            best, total = measure(sqlite_port, "sqlite", args.seconds, args.concurrency)
            results.append(("optin on SQLite", 1, best))
        finally:
            stop(solo)
        [(count,)] = rows(f"sqlite:///{tmp / 'bench.db'}", "SELECT count(*) FROM contacts")
        stored["SQLite x1"] = (int(count), total)
    finally:
        cluster.stop()
        dns.stop()
        catcher.stop()

    bare_rate = {n: r for name, n, r in results if name.startswith("bare")}
    print(
        f"replicas bench: best of 2 runs of {args.seconds:g} s, {args.concurrency} connections, wrk -t1,"
        f" {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    for name, n, r in results:
        bare_n = bare_rate[n]
        ratio = r.rate / bare_n.rate
        p99 = r.p99 / bare_n.p99
        print(f"{r.line(f'{name} x{n}')}   ratio to bare x{n}: {ratio:.2f} (p99 x{p99:.1f})")
    print(f"emails the sink received during the runs: {sink.count}")
    for label, (count, expected) in stored.items():
        # wrk counts the answers it read before its time was up; the requests still in flight then
        # were answered (and stored) too, so there may be a few more rows than counted answers.
        print(f"durable ({label}): {count} signups stored for {expected} answered 202")
        if count < expected:
            raise SystemExit("some accepted signups were not stored")


if __name__ == "__main__":
    main()
