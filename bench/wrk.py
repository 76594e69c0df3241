"""Driving wrk (Debian's package ``wrk``), the load generator every bench shares.

wrk is a C program on one thread here (``-t1``): on a 2-core machine it leaves the other core to
the server under test, which the Python load generator in bench/loadgen.py cannot. Each request
of a POST run carries a fresh address (a Lua counter), so no signup is a repeat of another.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
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
