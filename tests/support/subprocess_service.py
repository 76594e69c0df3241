"""optin as a real process (``python -m service serve``), for tests that kill it with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.support.app_server import SECRET, wait_for
from tests.support.relay import PASSWORD, USER, Relay

REPO = Path(__file__).resolve().parents[2]


def write_config(
    tmp: Path, port: int, relay: Relay, ca_file: str, nameserver: str, connector: str, connector_toml: str
) -> Path:
    """Settings for one ``newsletter`` form sending through ``relay`` to ``connector``.

    Short leases and backoff so a killed process's jobs come back within seconds; the relay
    password comes from the environment, as it should in production.
    """
    config = tmp / "optin.toml"
    config.write_text(
        f"""
[server]
public_url = "http://127.0.0.1:{port}"
secret_key = "{SECRET}"
database = "sqlite:///{tmp / "optin.db"}"
confirm_min_dwell_seconds = 0

[smtp]
host = "127.0.0.1"
port = {relay.port}
security = "starttls"
username = "{USER}"
password = "env:RELAY_PASSWORD"
sender = "News <news@example.com>"
tls_ca_file = "{ca_file}"

[limits]
signups_per_ip_hour = 1000
signups_per_network_hour = 1000

[dns]
nameservers = ["{nameserver}"]

[outbox]
concurrency = 4
lease_seconds = 2.0
base_delay = 0.2
max_delay = 1.0
poll_interval = 0.1

[forms.newsletter]
title = "Restart Letter"
connector = "{connector}"

[forms.newsletter.antibot]
altcha = false
min_fill_seconds = 0

{connector_toml}
""",
        encoding="utf-8",
    )
    return config


@asynccontextmanager
async def running_service(config: Path, port: int, tmp: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start the service, wait until /healthz answers; stop it gracefully unless it was killed."""
    log = (tmp / "service.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *["-m", "service", "--config", str(config), "serve", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "RELAY_PASSWORD": PASSWORD},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient() as http:

            async def up() -> bool:
                if proc.returncode is not None:
                    raise AssertionError((tmp / "service.log").read_text())
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(up, timeout=30, what="the service to start")
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)
        log.close()
