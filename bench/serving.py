"""What serving costs beside the bare ceiling, in one run, on the same stack (uvicorn with uvloop
and httptools, one process each), driven by the same load generator (wrk, one thread):

- the bare Starlette JSON POST (bench/bare.py): the ceiling;
- ``GET /widget.js`` and a versioned asset, gzip-encoded as browsers ask;
- ``POST /v1/verify`` for an address at a domain whose answer is cached;
- the same verify with optin's middlewares removed: what the middlewares cost.

    .venv/bin/python -m bench.serving [--seconds 10] [--connections 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import wrk
from bench.replicas import launch, stop
from tests.support.app_server import SECRET, free_port
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

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
    ports = {name: free_port() for name in ("bare", "optin", "stripped")}
    conf = config(tmp / "serving.toml", ports["optin"], dns.nameserver)
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
        }
        results: dict[str, wrk.Run] = {}
        for port, path, script, headers in runs.values():
            url = f"http://127.0.0.1:{port}{path}"
            wrk.run(url, 3, args.connections, script=script, headers=headers)  # warm-up, the same for all
        for _ in range(
            args.rounds
        ):  # interleaved rounds, the best of each: the machine's noise hits all alike
            for name, (port, path, script, headers) in runs.items():
                url = f"http://127.0.0.1:{port}{path}"
                time.sleep(0.5)
                run = wrk.run(url, args.seconds, args.connections, script=script, headers=headers)
                if name not in results or run.rate > results[name].rate:
                    results[name] = run
    finally:
        stop(*procs)
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


if __name__ == "__main__":
    main()
