"""optin instances as real processes (``python -m service serve --role …``), to kill and restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.app_server import wait_for

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Instance:
    config: Path
    role: str
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    extra: list[str] = field(default_factory=list)  # more `serve` options

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Instance:
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *["-m", "service", "--config", str(self.config), "serve", "--role", self.role],
                *["--port", str(self.port)],
                *self.extra,
                cwd=REPO,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        async with httpx.AsyncClient() as http:

            async def ready() -> bool:
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(
                        f"{self.role} on {self.port} exited:\n{self.log.read_text()[-3000:]}"
                    )
                try:
                    return (await http.get(f"{self.url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(ready, timeout=60, what=f"the {self.role} on port {self.port}")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM, as an orchestrator stops a replica; returns the exit code (uvicorn exits by
        re-raising the signal once it has shut down cleanly: -SIGTERM)."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc and self.proc.returncode is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def wait_dead(self) -> None:
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), 10)
