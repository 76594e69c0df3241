"""Accepted durable signups per second on PostgreSQL with 1, 2 and 4 web processes, beside SQLite
with 1 process and the bare Starlette endpoint with the same process counts, in one run.

Every optin figure includes what a signup costs: verification (warm DNS cache from a loopback
zone), the per-form limit and per-address budget, the consent ledger and the outbox job, committed
durably (PostgreSQL with fsync and synchronous_commit on, as shipped; SQLite in WAL with
synchronous=FULL), and one worker process (``--role worker``) mailing the confirmations to an SMTP
sink during the run, as production does. SQLite runs one ``--role all`` process, its worker inside.
The bare endpoint runs with uvicorn ``--workers N``; optin with ``serve --workers N``: the same
process model, the same load generator, the same requests, each side warmed first.

    .venv/bin/python -m bench.replicas [--requests 4000] [--concurrency 64] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from bench.loadgen import Result
from bench.subscribe import REPO, Sink, run, show
from tests.support.app_server import SECRET, free_port
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
    path.write_text(
        f"""[server]
public_url = "http://127.0.0.1:{port}"
secret_key = "{SECRET}"
database = "{database}"
auto_migrate = true
[smtp]
host = "127.0.0.1"
port = {sink}
security = "none"
sender = "Bench <bench@example.com>"
[dns]
nameservers = ["{nameserver}"]
[limits]
signups_per_ip_hour = 0
signups_per_network_hour = 0
signups_per_form_hour = 1000000
[forms.newsletter]
title = "Bench"
consent_text = "ok"
[forms.newsletter.antibot]
altcha = false
min_fill_seconds = 0
""",
        encoding="utf-8",
    )
    return path


def measure(port: int, label: str, requests: int, concurrency: int) -> Result:
    asyncio.run(run(port, f"warm-{label}-", 500, concurrency))
    rounds = [asyncio.run(run(port, f"{label}-{i}-", requests, concurrency)) for i in range(2)]
    return max(rounds, key=lambda r: r.rate)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    found = binaries()
    if found is None:
        raise SystemExit("PostgreSQL's server binaries are needed (Debian: apt install postgresql)")

    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    sink = Sink()
    sink_port = free_port()
    catcher = Controller(sink, hostname="127.0.0.1", port=sink_port)
    catcher.start()
    # Durable, as a real server: fsync, synchronous_commit and full_page_writes at their defaults.
    cluster = Cluster(found, settings=()).start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-bench-"))
    results: list[tuple[str, int, Result]] = []
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
                    ("bare Starlette JSON", n, measure(port, "bare", args.requests, args.concurrency))
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
                result = measure(web_port, f"pg{n}", args.requests, args.concurrency)
                results.append(("optin on PostgreSQL", n, result))
            finally:
                stop(web, worker)
            [(count,)] = rows(database, "SELECT count(*) FROM contacts")
            stored[f"pg{n}"] = (int(count), 500 + 2 * args.requests)

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
            results.append(
                ("optin on SQLite", 1, measure(sqlite_port, "sqlite", args.requests, args.concurrency))
            )
        finally:
            stop(solo)
        [(count,)] = rows(f"sqlite:///{tmp / 'bench.db'}", "SELECT count(*) FROM contacts")
        stored["sqlite"] = (int(count), 500 + 2 * args.requests)
    finally:
        cluster.stop()
        dns.stop()
        catcher.stop()

    bare_rate = {n: r.rate for name, n, r in results if name.startswith("bare")}
    print(
        f"replicas bench: {args.requests} requests x 2 rounds (best), {args.concurrency} connections,"
        f" {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    for name, n, r in results:
        ratio = r.rate / bare_rate[n] if not name.startswith("bare") else 1.0
        print(f"{show(f'{name} x{n}', r)}   ratio to bare x{n}: {ratio:.2f}")
    print(f"emails the sink received during the runs: {sink.count}")
    for label, (count, expected) in stored.items():
        print(f"durable ({label}): {count} of {expected} accepted signups are in the database")
        if count != expected:
            raise SystemExit("some accepted signups were not stored")


if __name__ == "__main__":
    main()
