"""Kill -9 the service with jobs in flight: after a restart nothing is lost and nothing doubles.

Delivery is at-least-once towards the relay and the webhook, with a stable identity: a job that
dies after the relay took the message resends the *same* Message-ID (receivers and mailbox
providers drop the copy), and a webhook redelivery carries the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from collections import defaultdict
from pathlib import Path

import httpx

from tests.support.app_server import confirm, free_port, link_in, wait_for
from tests.support.relay import Relay, run_relay
from tests.support.subprocess_service import running_service, write_config
from tests.support.webhook_receiver import Receiver, run_receiver

HOOK_SECRET = "restart-test-webhook-secret"
COUNT = 20


def by_recipient(relay: Relay) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for message in relay.messages:
        seen[str(message["To"])].add(str(message["Message-ID"]))
    return seen


async def test_sigkill_mid_flight_loses_nothing_and_sends_nothing_twice(
    server_context: ssl.SSLContext, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    relay = Relay(delay=0.15, hold_after=3)
    receiver = Receiver(HOOK_SECRET, delay=0.15)
    port = free_port()
    addresses = [f"reader{i}@example.org" for i in range(COUNT)]
    async with (
        run_relay(relay, mode="starttls", server_context=server_context),
        run_receiver(receiver) as hook,
    ):
        connector = (
            f'[connectors.main-list]\nkind = "webhook"\nurl = "{hook.url}"\nsecret = "{HOOK_SECRET}"\n'
        )
        config = write_config(tmp_path, port, relay, ca_file, nameserver, "main-list", connector)
        base = f"http://127.0.0.1:{port}"
        async with running_service(config, port, tmp_path) as proc, httpx.AsyncClient(base_url=base) as http:
            for address in addresses:
                answer = await http.post("/v1/forms/newsletter/subscribe", json={"email": address})
                assert answer.status_code == 202
            await wait_for(lambda: relay.attempts >= 3, what="some emails in flight")
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
        killed_after = len(relay.messages)
        relay.released.set()  # what was held lands now, its sender long gone
        assert killed_after < COUNT, "the kill came too late to test anything"

        async with (
            running_service(config, port, tmp_path),
            httpx.AsyncClient(base_url=base, timeout=10) as http,
        ):
            await wait_for(lambda: len(by_recipient(relay)) == COUNT, timeout=60, what="every confirmation")
            await asyncio.sleep(1.0)  # let any wrongful second send arrive
            seen = by_recipient(relay)
            assert sorted(seen) == sorted(addresses)
            assert all(len(ids) == 1 for ids in seen.values()), seen
            print(
                f"\nemails: {len(relay.messages)} deliveries for {COUNT} signups, killed after {killed_after}"
            )

            links = {}
            for message in relay.messages:
                links[str(message["To"])] = link_in(message, "confirm")
            for address in addresses:
                assert (await confirm(http, links[address])).status_code == 200
            await wait_for(lambda: len(receiver.events) >= 3, what="some webhook deliveries")
            deliveries_before_kill = len(receiver.events)

        async with running_service(config, port, tmp_path) as proc:
            os.kill(proc.pid, signal.SIGKILL)  # a second crash, right after start
            await proc.wait()
        async with running_service(config, port, tmp_path):
            await wait_for(
                lambda: {e["data"]["email"] for e in receiver.events} == set(addresses),
                timeout=60,
                what="every webhook delivery",
            )
            await asyncio.sleep(1.0)
        ids_per_contact: dict[str, set[str]] = defaultdict(set)
        for event, msg_id in zip(receiver.events, receiver.ids, strict=True):
            ids_per_contact[event["data"]["email"]].add(msg_id)
        assert all(len(ids) == 1 for ids in ids_per_contact.values()), ids_per_contact
        assert receiver.bad_signatures == 0
        print(
            f"webhooks: {len(receiver.events)} deliveries for {COUNT} contacts ({deliveries_before_kill} before)"
        )

        log = (tmp_path / "service.log").read_text()
        assert "POST /confirm/…" in log  # the access log is there, with the token hidden
        assert not any(address in log for address in addresses)
        assert not any(link.rsplit("/", 1)[1] in log for link in links.values())
