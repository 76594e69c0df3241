"""``optin serve --workers N``: N processes on one port, a dead one replaced, a SIGTERM drains all."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from tests.store.test_replicas import _config
from tests.support.app_server import free_port, wait_for
from tests.support.instances import Instance
from tests.support.relay import PASSWORD, Relay


async def _pids(url: str, tries: int = 40) -> set[int]:
    found = set()
    for _ in range(tries):  # a new connection each time: the kernel hands it to any process
        async with httpx.AsyncClient() as http:
            found.add((await http.get(f"{url}/livez")).json()["pid"])
    return found


async def test_workers_share_the_port_and_a_dead_one_is_replaced(
    db_url: str, starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    port = free_port()
    config = _config(
        tmp_path,
        db_url,
        f"http://127.0.0.1:{port}",
        starttls_relay,
        ca_file,
        nameserver,
        "http://127.0.0.1:9/",
    )
    service = Instance(
        config, "all", port, tmp_path / "service.log", {"RELAY_PASSWORD": PASSWORD, "HOOK_SECRET": "x" * 20}
    )
    service.extra = ["--workers", "2"]
    await service.start()
    try:
        pids = await _pids(service.url)
        assert len(pids) == 2 and service.proc is not None and service.proc.pid not in pids
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{service.url}/v1/forms/proof/subscribe",
                json={"email": "ann@example.org", "consent": True, "optin_hp": ""},
            )
        assert answer.status_code == 400  # the proof form wants a proof: the app answers, from a child

        victim = pids.pop()
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            try:
                now = await _pids(service.url, 20)
            except httpx.TransportError:
                return False
            return len(now) == 2 and victim not in now

        await wait_for(replaced, timeout=30, what="the supervisor to replace the killed process")
        assert "exited (killed by signal 9); starting another" in service.log.read_text()
        children = await _pids(service.url, 20)
        assert await service.stop() == 0
        for pid in children:  # nothing is left behind
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"process {pid} outlived the supervisor")
        assert service.log.read_text().count("Application shutdown complete") >= 2
    finally:
        if service.proc is not None and service.proc.returncode is None:
            service.kill()
