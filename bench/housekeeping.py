"""At a million contacts: the bytes each costs, and signups while 10,000 expired ones are purged.

A SQLite database is filled as a year of signups leaves it: 1,000,000 confirmed contacts, each
with its ledger (signup, email sent, confirmation), its confirmation and its link evidence, and
10,000 never-confirmed contacts older than the retention period; finished jobs are already
trimmed by retention (``outbox.keep_done_days``), as a running service keeps them. Then one
``optin serve`` takes signups from wrk twice, the same length each time: once alone, once while
``optin purge`` (another process, as the hourly purge would) deletes the 10,000. The p99 of the
second run is compared with the first's.

    .venv/bin/python -m bench.housekeeping [--contacts 1000000] [--expired 10000] [--seconds 20]
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

from aiosmtpd.controller import Controller

from bench import wrk
from bench.replicas import config, launch, stop
from bench.subscribe import Sink
from service.store import ConsentEvent, Transaction, open_store
from tests.support.app_server import free_port
from tests.support.db import rows
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

DAY = 86_400.0
CHUNK = 5_000


async def fill(database: str, contacts: int, expired: int) -> None:
    store = await open_store(database)
    now = time.time()

    def chunk(start: int, stop_: int, old: bool) -> object:
        def op(tx: Transaction) -> None:
            for i in range(start, stop_):
                at = now - (40 * DAY if old else 200 * DAY * (i / max(contacts, 1)))
                email = f"{'gone' if old else 'reader'}{i}@example.org"
                contact = tx.insert_contact("newsletter", email, "Ann", None, "en", at)
                tx.add_event(contact, ConsentEvent("signup", at, ip="192.0.2.1", user_agent="Mozilla/5.0 (X11)",
                                                   page_url="https://www.example.org/news",
                                                   consent_text="I agree to receive the newsletter.",
                                                   detail="form=newsletter via=form version=abc"))  # fmt: skip
                tx.add_event(
                    contact,
                    ConsentEvent("confirmation_email_sent", at + 2, detail="message_id=<x@example.com>"),
                )
                tx.add_confirmation(f"t{'g' if old else 'r'}{i}", contact, at)
                if not old:
                    tx.add_link_event(f"tr{i}", at + 60, "POST", "confirmed", "192.0.2.1", "Mozilla/5.0", 4.2)
                    tx.set_status(contact, "confirmed", at + 60)
                    tx.add_event(
                        contact,
                        ConsentEvent("confirmation", at + 60, ip="192.0.2.1", user_agent="Mozilla/5.0"),
                    )

        return op

    try:
        for start in range(0, contacts, CHUNK):
            await store.write(chunk(start, min(start + CHUNK, contacts), False))  # type: ignore[arg-type]
        for start in range(0, expired, CHUNK):
            await store.write(chunk(start, min(start + CHUNK, expired), True))  # type: ignore[arg-type]
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--expired", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    wrk.available()
    tmp = Path(tempfile.mkdtemp(prefix="optin-housekeeping-"))
    path = tmp / "big.db"
    database = f"sqlite:///{path}"
    started = time.perf_counter()
    asyncio.run(fill(database, args.contacts, args.expired))
    filled = time.perf_counter() - started
    subprocess.run(["sqlite3", str(path), "VACUUM"], check=False)
    size = path.stat().st_size
    print(f"filled {args.contacts + args.expired} contacts in {filled:.0f} s; {size / 1e6:.0f} MB,"
          f" {size / (args.contacts + args.expired):.0f} bytes per contact (ledger and evidence included)")  # fmt: skip

    dns = LoopbackDns(ZoneResolver(build_zone())).start()
    sink = Sink()
    sink_port = free_port()
    catcher = Controller(sink, hostname="127.0.0.1", port=sink_port)
    catcher.start()
    port = free_port()
    conf = config(tmp / "big.toml", database, port, sink_port, dns.nameserver)
    # The service keeps them (its own hourly purge would take them at start-up); the purge run
    # beside it applies the usual 30 days.
    keep = tmp / "keep.toml"
    keep.write_text(
        conf.read_text().replace("auto_migrate = true", "auto_migrate = true\nretention_days = 365")
    )
    server = launch(["-m", "service", "--config", str(keep), "serve", "--port", str(port)], port, "/readyz")
    url = f"http://127.0.0.1:{port}/v1/forms/newsletter/subscribe"
    try:
        wrk.run(url, 3, args.connections, script=wrk.signups("warm", "/v1/forms/newsletter/subscribe"))
        alone = wrk.run(
            url, args.seconds, args.connections, script=wrk.signups("a", "/v1/forms/newsletter/subscribe")
        )
        purge = subprocess.Popen(
            [sys.executable, "-m", "service", "--config", str(conf), "purge"],
            stdout=subprocess.PIPE,
            text=True,
        )
        during = wrk.run(
            url, args.seconds, args.connections, script=wrk.signups("p", "/v1/forms/newsletter/subscribe")
        )
        out, _ = purge.communicate(timeout=600)
    finally:
        stop(server)
        catcher.stop()
        dns.stop()
    left = rows(database, "SELECT count(*) FROM contacts WHERE email LIKE 'gone%'")[0][0]
    print(f"housekeeping bench: {args.connections} connections, {args.seconds:g} s each, {os.cpu_count()} cores,"
          f" Python {sys.version.split()[0]}")  # fmt: skip
    print(alone.line("signups alone"))
    print(during.line("signups during the purge"))
    print(
        f"p99 during / alone: {during.p99 / alone.p99:.2f}; purge said: {out.strip()}; expired left: {left}"
    )


if __name__ == "__main__":
    main()
