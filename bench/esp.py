"""A backlog of confirmed contacts drains into a fake Mailchimp: batching vs one request each.

One run, two drains of the same backlog, each into a fresh fake Mailchimp (tests/fake_esps) that
runs in its own process on 127.0.0.1. The drains use optin's real outbox worker, Delivery, store
(SQLite, WAL, synchronous=FULL) and Mailchimp connector with default outbox settings; the only
difference is the worker's ``batch`` argument. The backlog (contacts, consent records, one
``connector_upsert`` job each) is written straight into a fresh database before each drain.

    .venv/bin/python -m bench.esp [--contacts 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from service import jobs
from service.app import build_connectors
from service.delivery import Delivery
from service.mail import Message
from service.outbox import OutboxWorker
from service.render import Renderer
from service.settings import OutboxSettings, build_settings
from service.store import ConsentEvent, Store, Transaction, open_store
from service.tokens import Tokens
from tests.support.app_server import SECRET, free_port

REPO = Path(__file__).resolve().parent.parent
API_KEY, LIST_ID = "0123456789abcdef-us21", "a1b2c3d4e5"


class NoMail:
    async def send(self, message: Message, recipient: str, *, sender: str | None = None) -> str:
        return "not sent (bench)"

    async def aclose(self) -> None:
        return None


def serve_fake(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette

    from tests.fake_esps.mailchimp import FakeMailchimp

    fake = FakeMailchimp(API_KEY, LIST_ID)
    app = Starlette(routes=fake.routes)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def start_fake() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.esp", "--serve-fake", str(port)], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            httpx.get(url, timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the fake Mailchimp did not start")


def seed(tx: Transaction, count: int, now: float) -> None:
    for i in range(count):
        contact_id = tx.insert_contact("newsletter", f"reader{i}@example.org", "Ann", "Lee", "en", now)
        tx.add_event(contact_id, ConsentEvent("signup", now, ip="198.51.100.7", consent_text="ok"))
        tx.add_event(contact_id, ConsentEvent("confirmation", now, ip="198.51.100.7"))
        tx.set_status(contact_id, "confirmed", now)
        tx.enqueue(jobs.connector_upsert(contact_id, "esp", f"bench-{i}"), now)


async def members(url: str) -> int:
    async with httpx.AsyncClient(auth=("bench", API_KEY)) as http:
        info = (await http.get(f"{url}/3.0/lists/{LIST_ID}")).json()
    return int(info["stats"]["member_count"])


async def drain(count: int, batching: bool, tmp: Path) -> tuple[float, int, int]:
    """Seconds to drain ``count`` upserts, contacts the ESP ended with, jobs left not done."""
    proc, url = start_fake()
    database = f"sqlite:///{tmp / ('batch' if batching else 'single')}.db"
    raw = {
        "server": {"secret_key": SECRET, "database": database},
        "forms": {"newsletter": {"connector": "esp"}},
        "connectors": {"esp": {"kind": "mailchimp", "api_key": API_KEY, "list_id": LIST_ID, "base_url": url}},
    }
    settings = build_settings(raw, {}, "bench")
    store: Store = await open_store(database)
    connectors = build_connectors(settings)
    try:
        now = time.time()
        await store.write(lambda tx: seed(tx, count, now))
        delivery = Delivery(
            settings,
            store,
            NoMail(),
            connectors,
            Renderer(settings.server.templates_dir),
            Tokens(settings.server.secret_key),
        )
        outbox = OutboxSettings()  # the defaults a site runs with
        worker = OutboxWorker(store, outbox, delivery.run, delivery.lane, batch="auto" if batching else None)
        started = time.perf_counter()
        worker.start()
        while (await store.job_counts()).get("pending", 0):  # noqa: ASYNC110 - the queue is in SQLite
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        await worker.stop()
        counts = await store.job_counts()
        return elapsed, await members(url), count - counts.get("done", 0)
    finally:
        for connector in connectors.values():
            await connector.aclose()
        await store.close()
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake)
        return
    tmp = Path(tempfile.mkdtemp(prefix="optin-bench-esp-"))
    print(f"esp bench: {args.contacts} confirmed contacts into a fake Mailchimp on loopback")
    print(f"({os.cpu_count()} cores, Python {sys.version.split()[0]}; default [outbox] settings)")
    rates = {}
    for batching in (True, False):
        elapsed, on_list, left = asyncio.run(drain(args.contacts, batching, tmp))
        name = "batching (≤ 500 per call)" if batching else "one request per contact"
        rates[batching] = args.contacts / elapsed
        print(
            f"{name:<28} {elapsed:7.1f} s  {rates[batching]:8.0f} contacts/s"
            f"   on the list: {on_list}   jobs not done: {left}"
        )
        if on_list != args.contacts or left:
            raise SystemExit("some contacts did not reach the list")
    print(f"batching / one by one: {rates[True] / rates[False]:.1f}x")


if __name__ == "__main__":
    main()
