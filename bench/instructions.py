"""Instructions per request, counted by valgrind's callgrind: a figure the machine's load does not move.

On a shared 2-core machine wrk's and even bench.cpu's figures drift by 10-20 % with whatever else
runs; the number of instructions a request takes does not. Each app is driven as in bench.cpu
(uvicorn's httptools protocol on a collecting transport, 64 connections, warmed first); the count
is switched on (``callgrind_control -i on``) only around the timed requests, and each app runs
twice, with N/2 and N requests, so that what switching costs cancels out:
``(count(N) - count(N/2)) / (N/2)``. Instructions are not time (a cache miss costs more than an
add), but the ratios follow the CPU figures closely and repeat to a tenth of a percent.

    .venv/bin/python -m bench.instructions [--requests 1280] [--only bare,verify,verify-stripped]

Needs valgrind (Debian's package). About 40 s per run under valgrind, two runs per app.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvloop

from bench import cpu
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

APPS = ("bare", "verify", "verify-stripped")


def counting(state: str) -> None:
    """Switch callgrind's count on or off for this process; blocking, so nothing runs meanwhile."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


async def child(name: str, requests: int) -> None:
    """Under valgrind: warm ``name`` up, then count ``requests`` requests."""
    from bench.app_runner import without_edge
    from bench.bare import app as bare
    from service.app import create_app
    from service.settings import load_settings

    cpu.quiet_access_log()
    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    tmp = Path(tempfile.mkdtemp(prefix="optin-instructions-"))
    conf = tmp / "cpu.toml"
    conf.write_text(cpu.config_text(f"sqlite:///{tmp / 'cpu.db'}", dns.nameserver), encoding="utf-8")
    settings = load_settings(str(conf))
    optin = create_app(settings, "web")
    async with optin.router.lifespan_context(optin):
        app: Any = optin
        if name == "bare":
            app = bare
        elif name == "verify-stripped":
            app = create_app(settings, "web")
            without_edge(app)
            app.state = optin.state  # the same services, without the middlewares
        made = cpu.signup_requests("bare") if name == "bare" else cpu.verify_requests
        await cpu.drive(app, made, 640, 64, 10_000_000)
        counting("on")
        await cpu.drive(app, made, requests, 64, 1_000_000)
        counting("off")
    dns.stop()


def counted(name: str, requests: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                "-m",
                "bench.instructions",
                "--child",
                name,
                "--requests",
                str(requests),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode or not found:
        raise SystemExit(f"valgrind run of {name} failed:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1280, help="a multiple of 128")
    parser.add_argument("--only", default=",".join(APPS))
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        uvloop.run(child(args.child, args.requests))
        return
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("bench.instructions needs valgrind: apt-get install valgrind")
    half = args.requests // 2
    per: dict[str, float] = {}
    for name in args.only.split(","):
        per[name] = (counted(name, args.requests) - counted(name, half)) / half
        print(f"{name:<16} {per[name] / 1000:7.1f} k instructions/request", flush=True)
    if "bare" in per and "verify" in per:
        print(f"verify: {per['bare'] / per['verify']:.2f} of bare's rate (by instructions)")
    if "verify" in per and "verify-stripped" in per:
        print(
            f"middlewares: {(1 - per['verify-stripped'] / per['verify']) * 100:.1f} % of verify's instructions"
        )


if __name__ == "__main__":
    main()
