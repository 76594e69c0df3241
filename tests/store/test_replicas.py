"""Three web processes and two workers on one PostgreSQL, with a web and a worker SIGKILLed
mid-flight and restarted: nothing accepted is lost, nothing is sent twice under two names,
limits and single-use proofs hold across replicas, and the list hears of each contact once."""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import httpx

from tests.support.app_server import SECRET, confirm, free_port, link_in, wait_for
from tests.support.db import rows
from tests.support.instances import Instance
from tests.support.postgres import Cluster
from tests.support.relay import PASSWORD, USER, Relay
from tests.support.webhook_receiver import Receiver, run_receiver
from tests.widget.harness import solve

SIGNUPS = 1000
HOOK_SECRET = "replica-webhook-secret-0123456789"


def _config(
    tmp: Path, database: str, public_url: str, relay: Relay, ca_file: str, ns: str, hook: str
) -> Path:
    path = tmp / "optin.toml"
    path.write_text(
        f"""
[server]
public_url = "{public_url}"
secret_key = "{SECRET}"
database = "{database}"
confirm_min_dwell_seconds = 0
trusted_proxies = ["127.0.0.1"]

[smtp]
host = "127.0.0.1"
port = {relay.port}
security = "starttls"
username = "{USER}"
password = "env:RELAY_PASSWORD"
sender = "News <news@example.com>"
tls_ca_file = "{ca_file}"

[limits]
signups_per_ip_hour = 20
signups_per_network_hour = 60

[dns]
nameservers = ["{ns}"]

[outbox]
concurrency = 8
lease_seconds = 2.0
base_delay = 0.2
max_delay = 1.0
poll_interval = 0.5

[connectors.list]
kind = "webhook"
url = "{hook}"
secret = "env:HOOK_SECRET"

[forms.newsletter]
title = "Replica Letter"
consent_text = "Yes, email me."
connector = "list"

[forms.newsletter.antibot]
altcha = false
min_fill_seconds = 0

[forms.proof]
title = "Proof Letter"

[forms.proof.antibot]
altcha_max_number = 2000
min_fill_seconds = 0
""",
        encoding="utf-8",
    )
    return path


def visitor_ip(i: int) -> str:
    """A distinct visitor on a network of its own (the per-network limit is 60 an hour)."""
    return f"10.{i // 250}.{i % 250}.1"


async def test_three_web_and_two_workers_share_one_postgresql(
    postgres: Cluster, starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    database = postgres.new_database()
    ports = [free_port() for _ in range(5)]
    async with run_receiver(Receiver(HOOK_SECRET)) as hook:
        config = _config(
            tmp_path, database, f"http://127.0.0.1:{ports[0]}", starttls_relay, ca_file, nameserver, hook.url
        )
        env = {"RELAY_PASSWORD": PASSWORD, "HOOK_SECRET": HOOK_SECRET}
        roles = ["web", "web", "web", "worker", "worker"]
        instances = [
            Instance(config, role, port, tmp_path / f"{role}-{port}.log", env)
            for role, port in zip(roles, ports, strict=True)
        ]
        await asyncio.gather(*(i.start() for i in instances))
        webs, workers = instances[:3], instances[3:]
        try:
            accepted = await _sign_up_while_killing(webs, workers)
            await _check_confirmation_emails(database, starttls_relay, accepted)
            await _check_limit_across_replicas(webs)
            await _check_proof_single_use_across_replicas(webs)
            await _confirm_all_and_check_the_list(webs, starttls_relay, hook, accepted)
            # A SIGTERM drains: each replica shuts down cleanly within its grace period.
            for code in await asyncio.gather(*(i.stop() for i in instances)):
                assert code in (0, -signal.SIGTERM)
            assert all("Application shutdown complete" in i.log.read_text() for i in instances)
        finally:
            for instance in instances:
                if instance.proc is not None and instance.proc.returncode is None:
                    instance.kill()


async def _sign_up_while_killing(webs: list[Instance], workers: list[Instance]) -> list[str]:
    """1,000 signups round-robin; at 300, a web and a worker are killed, then restarted."""
    accepted: list[str] = []
    gate = asyncio.Semaphore(24)
    killed = asyncio.Event()

    async def one(http: httpx.AsyncClient, i: int, web: Instance) -> None:
        email = f"reader{i}@example.org"
        async with gate:
            if i == 300:
                webs[0].kill()
                workers[0].kill()
                killed.set()
            try:
                answer = await http.post(
                    f"{web.url}/v1/forms/newsletter/subscribe",
                    json={"email": email, "consent": True},
                    headers={"X-Forwarded-For": visitor_ip(i)},
                )
            except httpx.TransportError:
                return  # the replica was killed: not accepted, the visitor sees an error
            if answer.status_code == 202:
                accepted.append(email)
            else:
                assert answer.status_code in (502, 503), answer.text

    async def restart() -> None:
        await killed.wait()
        await webs[0].wait_dead()
        await workers[0].wait_dead()
        await asyncio.sleep(1.0)
        await asyncio.gather(webs[0].start(), workers[0].start())

    async with httpx.AsyncClient(timeout=30) as http:
        round_robin = itertools.cycle(webs)
        await asyncio.gather(restart(), *(one(http, i, next(round_robin)) for i in range(SIGNUPS)))
    # The two live web processes took their share: well over half were accepted.
    assert len(accepted) > SIGNUPS * 0.6, len(accepted)
    return accepted


async def _check_confirmation_emails(database: str, relay: Relay, accepted: list[str]) -> None:
    def missing() -> list[str]:
        # One pass over the relay's mail: the relay shares this event loop and must keep up.
        received = {m["To"] for m in relay.messages}
        return [e for e in accepted if e not in received]

    try:
        await wait_for(lambda: not missing(), timeout=120, what="every confirmation email")
    except AssertionError:
        lost = missing()
        jobs = rows(
            database,
            "SELECT c.email, c.status, o.state, o.attempts, o.last_error FROM contacts c"
            " LEFT JOIN outbox o ON o.contact_id = c.id AND o.kind = 'confirmation_email' WHERE c.email IN"
            f" ({', '.join('?' * len(lost[:20]))})",
            lost[:20],
        )
        raise AssertionError(f"{len(lost)} accepted signups got no email: {jobs}") from None
    await asyncio.sleep(3.0)  # anything sent twice would have arrived by now
    attempts = dict(
        rows(database, "SELECT c.email, o.attempts FROM outbox o JOIN contacts c ON c.id = o.contact_id"
             " WHERE o.kind = 'confirmation_email'")
    )  # fmt: skip
    copies = Counter(m["To"] for m in relay.messages)
    message_ids: dict[str, set[str]] = {}
    for m in relay.messages:
        message_ids.setdefault(str(m["To"]), set()).add(str(m["Message-ID"]))
    for email in accepted:
        ids = message_ids[email]
        assert len(ids) == 1, (email, ids)  # one email, never two under different names
        # Only a job the killed worker held may have reached the relay twice (same Message-ID).
        assert copies[email] == 1 or attempts[email] > 1, (email, copies[email], attempts[email])
    assert not rows(database, "SELECT id FROM outbox WHERE state != 'done' AND kind = 'confirmation_email'")
    print(f"\n{len(accepted)} accepted; relay copies: {Counter(copies.values())}")


async def _check_limit_across_replicas(webs: list[Instance]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{webs[i % 3].url}/v1/forms/newsletter/subscribe",
                    json={"email": f"limited{i}@example.org", "consent": True},
                    headers={"X-Forwarded-For": "203.0.113.77"},
                )
                for i in range(25)
            )
        )
    assert sorted(a.status_code for a in answers) == [202] * 20 + [429] * 5


async def _check_proof_single_use_across_replicas(webs: list[Instance]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        challenge = (await http.get(f"{webs[0].url}/v1/forms/proof/challenge")).json()
        proof = {"altcha": solve(challenge), "optin_hp": "", "consent": True}
        first = await http.post(
            f"{webs[0].url}/v1/forms/proof/subscribe", json={**proof, "email": "p1@example.org"}
        )
        again = await http.post(
            f"{webs[1].url}/v1/forms/proof/subscribe", json={**proof, "email": "p2@example.org"}
        )
    assert first.status_code == 202, first.text
    assert again.status_code == 400 and "already used" in again.json()["error"]


async def _confirm_all_and_check_the_list(
    webs: list[Instance], relay: Relay, hook: Receiver, accepted: list[str]
) -> None:
    gate = asyncio.Semaphore(16)
    first: dict[str, EmailMessage] = {}
    for m in relay.messages:
        first.setdefault(str(m["To"]), m)

    async def person(http: httpx.AsyncClient, email: str) -> None:
        async with gate:
            answer = await confirm(http, link_in(first[email], "confirm"))
            assert answer.status_code == 200, answer.text

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(person(http, e) for e in accepted))
    await wait_for(lambda: len(hook.events) >= len(accepted), timeout=120, what="every contact at the list")
    await asyncio.sleep(2.0)
    confirmed = Counter(e["data"]["email"] for e in hook.events if e["type"] == "contact.confirmed")
    assert set(confirmed) == set(accepted)
    assert set(confirmed.values()) == {1}, [e for e, n in confirmed.items() if n > 1]
    assert len(set(hook.ids)) == len(hook.ids)
