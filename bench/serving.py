"""What serving costs beside the bare ceiling, in one run, on the same stack (uvicorn with uvloop
and httptools, one process each), driven by the same load generator (wrk, one thread):

- the bare Starlette JSON POST (bench/bare.py): the ceiling;
- ``GET /widget.js`` and a versioned asset, gzip-encoded as browsers ask;
- ``POST /v1/verify`` for an address at a domain whose answer is cached;
- the same verify with optin's middlewares removed: what the middlewares cost;
- durable signups (``POST /v1/forms/{id}/subscribe``, each a new address) on SQLite (WAL,
  synchronous=FULL, group commit), by ``optin serve`` with its worker inside mailing each
  confirmation to an SMTP sink in this process, as bench/replicas.py runs it (issue 17 goal 4).

    .venv/bin/python -m bench.serving [--seconds 10] [--connections 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from bench import replicas, wrk
from bench.replicas import launch, stop
from bench.subscribe import PATH, Sink
from tests.support.app_server import SECRET, free_port
from tests.support.db import rows
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

SIGNUPS = "durable signups, SQLite"
DOMAINS = ["example.org", "example.com", "gmail.com", "outlook.com"]


def config(path: Path, port: int, nameserver: str) -> Path:
    path.write_text(
        f"""[server]
public_url = "http://127.0.0.1:{port}"
secret_key = "{SECRET}"
database = "sqlite:///{path.parent / "serving.db"}"
[dns]
nameservers = ["{nameserver}"]
[limits]
verify_per_ip_minute = 0
[forms.newsletter]
title = "Bench"
""",
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    wrk.available()
    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-serving-"))
    ports = {name: free_port() for name in ("bare", "optin", "stripped", "signups")}
    conf = config(tmp / "serving.toml", ports["optin"], dns.nameserver)
    sink, sink_port = Sink(), free_port()
    catcher = Controller(sink, hostname="127.0.0.1", port=sink_port)
    catcher.start()
    durable = replicas.config(
        tmp / "signups.toml", f"sqlite:///{tmp / 'signups.db'}", ports["signups"], sink_port, dns.nameserver
    )
    procs = [
        launch(
            ["-m", "uvicorn", "bench.bare:app", "--port", str(ports["bare"]), "--log-level", "warning"],
            ports["bare"],
            "/",
        ),
        launch(["-m", "bench.app_runner", str(conf), str(ports["optin"])], ports["optin"], "/livez"),
        launch(
            ["-m", "bench.app_runner", str(conf), str(ports["stripped"]), "--no-middleware"],
            ports["stripped"],
            "/livez",
        ),
        launch(
            ["-m", "service", "--config", str(durable), "serve", "--port", str(ports["signups"])],
            ports["signups"],
            "/readyz",
        ),
    ]
    try:
        version = httpx.get(f"http://127.0.0.1:{ports['optin']}/widget.js").text.split('VERSION = "', 1)[1][
            :12
        ]
        verify = wrk.verifications("/v1/verify", DOMAINS)
        gzip = ("Accept-Encoding: gzip, deflate, br",)
        runs = {
            "bare Starlette JSON POST": (
                ports["bare"],
                "/v1/forms/x/subscribe",
                wrk.signups("b", "/v1/forms/x/subscribe"),
                (),
            ),
            "GET /widget.js (gzip)": (ports["optin"], "/widget.js", "", gzip),
            f"GET /widget/{version}/widget.css": (ports["optin"], f"/widget/{version}/widget.css", "", gzip),
            "POST /v1/verify, cached domain": (ports["optin"], "/v1/verify", verify, ()),
            "  the same, middlewares removed": (ports["stripped"], "/v1/verify", verify, ()),
            SIGNUPS: (ports["signups"], PATH, "", ()),
        }
        results: dict[str, wrk.Run] = {}
        answered = 0
        for round_ in range(args.rounds + 1):  # a warm-up, the same for all; then interleaved
            # rounds, the best of each: the machine's noise hits all alike
            for name, (port, path, script, headers) in runs.items():
                url = f"http://127.0.0.1:{port}{path}"
                if name == SIGNUPS:  # every signup a new address, in every round
                    script = wrk.signups(f"s{round_}-", path)
                    os.kill(procs[-1].pid, signal.SIGCONT)
                time.sleep(0.5)
                run = wrk.run(
                    url, args.seconds if round_ else 3, args.connections, script=script, headers=headers
                )
                if name == SIGNUPS:
                    answered += run.requests
                    # Its worker is still mailing the confirmations: frozen until its next
                    # run, so that it takes no CPU from the other figures.
                    os.kill(procs[-1].pid, signal.SIGSTOP)
                if round_ and (name not in results or run.rate > results[name].rate):
                    results[name] = run
    finally:
        os.kill(procs[-1].pid, signal.SIGCONT)
        stop(*procs)
        catcher.stop()
        dns.stop()
    bare = results["bare Starlette JSON POST"].rate
    print(f"serving bench: {args.connections} connections, best of {args.rounds} rounds of {args.seconds:g} s, wrk -t1,"
          f" {os.cpu_count()} cores,"
          f" Python {sys.version.split()[0]}")  # fmt: skip
    for name, run in results.items():
        print(f"{run.line(name)}   ratio to bare: {run.rate / bare:.2f}   errors: {run.errors}")
    verify_rate = results["POST /v1/verify, cached domain"].rate
    stripped = results["  the same, middlewares removed"].rate
    print(f"middlewares cost: {(1 - verify_rate / stripped) * 100:.1f} % of verify's throughput")
    signups, ceiling = results[SIGNUPS], results["bare Starlette JSON POST"]
    print(f"durable signups: ratio {signups.rate / bare:.2f}, p99 x{signups.p99 / ceiling.p99:.1f} of bare's;"
          f" errors {signups.errors}; emails the sink received: {sink.count}")  # fmt: skip
    [(count,)] = rows(f"sqlite:///{tmp / 'signups.db'}", "SELECT count(*) FROM contacts")
    print(f"durable: {count} signups stored for {answered} answered 202")
    if count < answered:
        raise SystemExit("some accepted signups were not stored")


if __name__ == "__main__":
    main()
