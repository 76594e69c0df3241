"""Roles and probes: a web process runs no job, a worker answers only probes, a SIGTERM drains."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from service.store.dialect import connect
from tests.store.test_replicas import _config
from tests.support.app_server import client, free_port, relay_settings, serve, wait_for
from tests.support.db import rows
from tests.support.instances import Instance
from tests.support.postgres import Cluster
from tests.support.relay import PASSWORD, Relay

SUBSCRIBE = "/v1/forms/newsletter/subscribe"


async def test_a_web_process_queues_jobs_and_only_a_worker_runs_them(
    db_url: str, starttls_relay: Relay, ca_file: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve(configure, role="web") as (web, _), client(web) as http:
        assert (
            await http.post(SUBSCRIBE, json={"email": "ann@example.org", "consent": True})
        ).status_code == 202
        assert (await http.get("/livez")).json()["role"] == "web"
        assert (await http.get("/readyz")).json() == {"status": "ready", "role": "web"}
        await asyncio.sleep(1.5)
        assert starttls_relay.messages == []  # queued, durably, and not sent by a web process
        assert rows(db_url, "SELECT state FROM outbox") == [("pending",)]
        async with serve(configure, role="worker") as (worker, _), client(worker) as probe:
            await wait_for(lambda: starttls_relay.to("ann@example.org"), what="the worker to send it")
            # A worker answers probes only: no form, no page, no API.
            assert (await probe.get("/livez")).json()["role"] == "worker"
            assert (await probe.get("/readyz")).status_code == 200
            for path in ("/v1/forms/newsletter", "/healthz", "/widget.js", "/confirm/x"):
                assert (await probe.get(path)).status_code == 404, path
            assert (await probe.post(SUBSCRIBE, json={"email": "b@example.org"})).status_code == 404


async def test_readyz_fails_when_the_schema_is_not_the_one_it_runs_on(
    db_url: str, starttls_relay: Relay, ca_file: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve(configure) as (url, settings), client(url) as http:
        assert (await http.get("/readyz")).status_code == 200
        # A newer optin upgraded the schema beside this one.
        with connect(settings.server.database) as conn:
            conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)")
        answer = await http.get("/readyz")
        assert answer.status_code == 503
        assert "schema is at version 99" in answer.json()["reason"]
        assert (await http.get("/livez")).status_code == 200  # alive: do not restart it, just route around


async def test_sigterm_hands_a_running_job_back_to_another_worker(
    postgres: Cluster, starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    database = postgres.new_database()
    ports = [free_port() for _ in range(3)]
    config = _config(
        tmp_path,
        database,
        f"http://127.0.0.1:{ports[0]}",
        starttls_relay,
        ca_file,
        nameserver,
        "http://127.0.0.1:9/",
    )
    # Leases long enough that only a hand-back, not an expiry, can explain a quick second try.
    config.write_text(config.read_text().replace("lease_seconds = 2.0", "lease_seconds = 120.0"))
    env = {"RELAY_PASSWORD": PASSWORD, "HOOK_SECRET": "x" * 20}
    second: Instance | None = None
    web = await Instance(config, "web", ports[0], tmp_path / "web.log", env).start()
    first = await Instance(config, "worker", ports[1], tmp_path / "w1.log", env).start()
    starttls_relay.delay = 60.0  # the relay hangs on DATA: the job is in flight when SIGTERM comes
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{web.url}{SUBSCRIBE}", json={"email": "slow@example.org", "consent": True}
            )
            assert answer.status_code == 202
        await wait_for(lambda: starttls_relay.attempts >= 1, timeout=20, what="the send to start")
        started = time.monotonic()
        code = await first.stop()
        stopped_in = time.monotonic() - started
        assert code in (0, -signal.SIGTERM)
        assert stopped_in < 30, stopped_in  # bounded: the job grace, then out
        assert "handed 1 unfinished job(s) back to the queue" in first.log.read_text()
        [(locked_until, attempts)] = rows(database, "SELECT locked_until, attempts FROM outbox")
        assert locked_until is None and attempts == 1

        starttls_relay.delay = 0.0
        second = await Instance(config, "worker", ports[2], tmp_path / "w2.log", env).start()
        await wait_for(lambda: starttls_relay.to("slow@example.org"), timeout=15, what="the second worker")
        # The relay has the message a moment before the worker records the job as done.
        await wait_for(
            lambda: rows(database, "SELECT state FROM outbox") == [("done",)],
            timeout=15,
            what="the job to be done",
        )
        await second.stop()
    finally:
        for instance in (web, first, second):
            if instance is not None and instance.proc is not None and instance.proc.returncode is None:
                instance.kill()
