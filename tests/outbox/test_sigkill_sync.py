"""Kill -9 the service in the middle of a sync to a slow ESP: after a restart, one member each.

The fake Mailchimp runs in the test process and answers every request slowly, so upserts (single
and batched) are in flight when the service dies; their leases expire and the restarted service
sends them again. The ESP keys members by address and our upserts are idempotent, so a resend
updates instead of adding: every address ends up exactly once on the list.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from pathlib import Path

import httpx

from tests.support.app_server import free_port, wait_for
from tests.support.esp_service import TimedMailchimp, jobs_of, settled, sign_up_and_confirm
from tests.support.relay import Relay, run_relay
from tests.support.subprocess_service import running_service, write_config

REPO = Path(__file__).resolve().parents[2]
COUNT = 24


def jobs_states(db_url: str) -> list[str]:
    return [state for state, *_ in jobs_of(db_url, "connector_upsert")]


async def test_sigkill_mid_sync_leaves_no_duplicate_at_the_esp(
    server_context: ssl.SSLContext, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    esp = TimedMailchimp(delay=1.0, hold_after=3)
    relay = Relay()
    port = free_port()
    people = [f"member{i}@example.org" for i in range(COUNT)]
    db_url = f"sqlite:///{tmp_path / 'optin.db'}"
    await esp.start()
    try:
        async with run_relay(relay, mode="starttls", server_context=server_context):
            connector = (
                f'[connectors.esp]\nkind = "mailchimp"\napi_key = "{esp.api_key}"\nlist_id = "{esp.list_id}"\n'
                f'base_url = "{esp.base_url}"\ntags = ["website"]\n'
            )
            config = write_config(tmp_path, port, relay, ca_file, nameserver, "esp", connector)
            base = f"http://127.0.0.1:{port}"
            async with (
                running_service(config, port, tmp_path) as proc,
                httpx.AsyncClient(base_url=base) as http,
            ):
                await sign_up_and_confirm(http, relay, people)
                await wait_for(lambda: len(esp.members) >= 3, timeout=30, what="a sync in flight")
                os.kill(proc.pid, signal.SIGKILL)
                await proc.wait()
            synced_before = len(esp.members)
            esp.released.set()  # what was held in flight now lands, its client long gone
            assert synced_before < COUNT, "the kill came too late to test anything"
            done_before = sum(1 for s in jobs_states(db_url) if s == "done")
            assert done_before < synced_before, "no upsert was cut off between the ESP and our commit"

            async with running_service(config, port, tmp_path):
                await wait_for(
                    lambda: settled(db_url, "connector_upsert", COUNT), timeout=90, what="the sync"
                )
                await asyncio.sleep(1.0)  # let any wrongful resend arrive
    finally:
        await esp.stop()

    assert sorted(m["email_address"] for m in esp.members.values()) == sorted(people)
    assert all(esp.member_count(p) == 1 for p in people)
    assert all(esp.member(p)["tags"] == ["website"] for p in people)  # type: ignore[index]
    print(
        f"\nESP requests: {len(esp.arrivals)} for {COUNT} contacts; at the kill {synced_before} were"
        f" on the list, {done_before} recorded as done"
    )
