"""Accepted signups per second, with durable writes, beside a bare Starlette JSON endpoint.

Both run as uvicorn processes on loopback, fed the same requests by the same load generator in
one run. optin's number includes everything a signup costs the service: parsing, the honeypot,
verification (DNS answered from a warm cache, served by a loopback test zone), the per-form
rate limit and per-address email budget (counted in the database), the SQLite transaction with
fsync (WAL, synchronous=FULL, group-committed) and the outbox worker emailing each confirmation
during the run to an SMTP sink in the bench's own process, as a real relay runs elsewhere. The
per-IP limits and the proof of work are off: every request comes from one loopback address, and
the proof of work is paid by the visitor's browser, not the service.

    .venv/bin/python -m bench.subscribe [--requests 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from bench.loadgen import Result, post_many
from tests.support.app_server import SECRET, free_port
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

REPO = Path(__file__).resolve().parent.parent
PATH = "/v1/forms/newsletter/subscribe"


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def config_text(database: str, public_url: str, smtp_port: int, nameserver: str) -> str:
    """optin as every signup bench runs it: no per-IP or per-network limits (one loopback client),
    no proof of work (it costs the visitor's browser), mail to a sink without TLS."""
    return f"""[server]
public_url = "{public_url}"
secret_key = "{SECRET}"
database = "{database}"
auto_migrate = true
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "Bench <bench@example.com>"
[dns]
nameservers = ["{nameserver}"]
[limits]
verify_per_ip_minute = 0
signups_per_ip_hour = 0
signups_per_network_hour = 0
signups_per_form_hour = 100000000
[forms.newsletter]
title = "Bench"
consent_text = "ok"
[forms.newsletter.antibot]
altcha = false
min_fill_seconds = 0
"""


def start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{args} did not start")


def body(prefix: str) -> object:
    return lambda i: json.dumps({"email": f"{prefix}{i}@example.org", "consent": True}).encode()


async def run(port: int, prefix: str, total: int, concurrency: int) -> Result:
    return await post_many("127.0.0.1", port, PATH, body(prefix), total, concurrency)  # type: ignore[arg-type]


def show(name: str, r: Result) -> str:
    return (
        f"{name:<28} {r.rate:8.0f} req/s   p50 {r.percentile(0.5):6.1f} ms   p99 {r.percentile(0.99):6.1f} ms"
        f"   statuses {r.statuses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    sink = Sink()
    sink_port = free_port()
    catcher = Controller(sink, hostname="127.0.0.1", port=sink_port)
    catcher.start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-bench-"))
    ours_port, bare_port = free_port(), free_port()
    config = tmp / "bench.toml"
    config.write_text(
        config_text(
            f"sqlite:///{tmp / 'bench.db'}", f"http://127.0.0.1:{ours_port}", sink_port, dns.nameserver
        ),
        encoding="utf-8",
    )
    env_note = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    ours = start(["-m", "service", "--config", str(config), "serve", "--port", str(ours_port)], ours_port)
    bare = start(
        ["-m", "uvicorn", "bench.bare:app", "--port", str(bare_port), "--log-level", "warning"], bare_port
    )
    try:
        asyncio.run(run(ours_port, "warm", 300, args.concurrency))
        asyncio.run(run(bare_port, "warm", 300, args.concurrency))
        results: dict[str, list[Result]] = {"optin": [], "bare": []}
        for round_ in range(2):
            results["optin"].append(
                asyncio.run(run(ours_port, f"r{round_}-", args.requests, args.concurrency))
            )
            results["bare"].append(
                asyncio.run(run(bare_port, f"r{round_}-", args.requests, args.concurrency))
            )
    finally:
        ours.terminate()
        bare.terminate()
        ours.wait()
        bare.wait()
        dns.stop()
        catcher.stop()
    best = {name: max(rs, key=lambda r: r.rate) for name, rs in results.items()}
    with sqlite3.connect(tmp / "bench.db") as db:
        stored = db.execute("SELECT count(*) FROM contacts").fetchone()[0]
    expected = 300 + 2 * args.requests
    print(f"subscribe bench: {args.requests} requests x 2 rounds, {args.concurrency} connections, {env_note}")
    print(show("optin POST subscribe", best["optin"]))
    print(show("bare Starlette JSON", best["bare"]))
    print(f"ratio optin/bare: {best['optin'].rate / best['bare'].rate:.2f}")
    print(f"durable: {stored} of {expected} accepted signups are in the database")
    print(f"emails the sink received during the run: {sink.count}")
    if stored != expected or set(best["optin"].statuses) != {202}:
        raise SystemExit("some signups were not accepted or not stored")


if __name__ == "__main__":
    main()
