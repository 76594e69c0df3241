"""Driving wrk (Debian's package ``wrk``), the load generator every bench shares.

wrk is a C program on one thread here (``-t1``): on a 2-core machine it leaves the other core to
the server under test, which the Python load generator in bench/loadgen.py cannot. Each request
of a POST run carries a fresh address (a Lua counter), so no signup is a repeat of another.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = """
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"email":"%s%d@example.org","consent":true}', "{prefix}", counter)
  return wrk.format("POST", "{path}", {{["Content-Type"]="application/json", ["Accept"]="application/json"}}, body)
end
"""
_VERIFY = """
local counter = 0
local domains = {{{domains}}}
request = function()
  counter = counter + 1
  local body = string.format('{{"email":"p%d@%s"}}', counter, domains[counter % #domains + 1])
  return wrk.format("POST", "{path}", {{["Content-Type"]="application/json"}}, body)
end
"""


@dataclass(frozen=True)
class Run:
    rate: float
    p50: float
    p99: float
    errors: int  # non-2xx/3xx answers and socket errors
    requests: int = 0  # answered in the run

    def line(self, name: str) -> str:
        return f"{name:<34} {self.rate:8.0f} req/s   p50 {self.p50:6.1f} ms   p99 {self.p99:6.1f} ms"


def available() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("the benches use wrk: apt install wrk")
    return found


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run(
    url: str, seconds: float, connections: int, *, script: str = "", headers: tuple[str, ...] = ()
) -> Run:
    args = [available(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    for header in headers:
        args += ["-H", header]
    with tempfile.TemporaryDirectory() as tmp:
        if script:
            path = Path(tmp) / "run.lua"
            path.write_text(script)
            args += ["-s", str(path)]
        out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    done = re.search(r"(\d+) requests in", out)
    return Run(rate, p50, p99, errors, int(done.group(1)) if done else 0)


def signups(prefix: str, path: str) -> str:
    return _SCRIPT.replace("{prefix}", prefix).replace("{path}", path).replace("{{", "{").replace("}}", "}")


def verifications(path: str, domains: list[str]) -> str:
    listed = ", ".join(f'"{d}"' for d in domains)
    return _VERIFY.format(domains=listed, path=path)


def arguments(description: str, seconds: float = 5.0) -> argparse.Namespace:
    """The options every interleaved wrk bench takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def signups_in_rounds(
    urls: Mapping[str, str], path: str, args: argparse.Namespace
) -> tuple[dict[str, Run], dict[str, int]]:
    """New signups POSTed to each of ``urls`` in turn: a 3-second warm-up round, then
    ``args.rounds`` interleaved rounds (the machine's noise hits every server alike). The best
    round of each, and how many requests each answered in all (to check against what it stored)."""
    best: dict[str, Run] = {}
    answered = dict.fromkeys(urls, 0)
    for round_ in range(args.rounds + 1):
        for i, (name, url) in enumerate(urls.items()):
            time.sleep(0.5)
            seconds = args.seconds if round_ else 3
            done = run(url, seconds, args.connections, script=signups(f"r{round_}s{i}-", path))
            answered[name] += done.requests
            if round_ and (name not in best or done.rate > best[name].rate):
                best[name] = done
    return best, answered


def header(title: str, args: argparse.Namespace) -> str:
    return (
        f"{title}: best of {args.rounds} rounds of {args.seconds:g} s, {args.connections} connections,"
        f" wrk -t1, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
