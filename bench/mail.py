"""Confirmation emails per second through optin's outbox, beside a plain aiosmtplib loop, in one run.

The relay is one aiosmtpd process on loopback (STARTTLS and AUTH, as a real relay asks), the
same for both sides. optin's side: a burst of N signups already committed (contact, ledger,
confirmation and its job, written straight into a fresh SQLite database), then one
``optin serve --role worker`` process drains them: each email is rendered from its templates,
sent, recorded in the ledger and its job settled, as in production. The ceiling: one process
with a plain loop of aiosmtplib ``send_message`` calls of one pre-rendered confirmation email on
as many reused connections as optin opens, no database, on the same event loop as the worker
(uvloop, which uvicorn picks when it is installed).

optin's rate is given twice: from launching the process (Python start-up, imports, settings,
database opened: about a second), and from when its /readyz answers, over the emails still
waiting then; the ratio "once ready" compares like with like (the loop's own start-up is not
timed either).

    .venv/bin/python -m bench.mail [--emails 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiosmtplib
import trustme

from bench.replicas import launch, stop
from service.jobs import confirmation_email
from service.mail.compose import confirmation_email as compose_confirmation
from service.mail.compose import new_message_id
from service.render import Renderer
from service.settings import REPO_ROOT
from service.store import ConsentEvent, Transaction, open_store
from tests.support.app_server import SECRET, free_port
from tests.support.db import rows
from tests.support.reference_mail import as_email_message

CONNECTIONS = 4  # optin's relay lane: the same number of connections on both sides
SENDER = "Bench <bench@example.com>"


def relay(port: int, cert_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.mail_relay", str(port), str(cert_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def fill(database: str, emails: int) -> None:
    store = await open_store(database)
    now = time.time()

    def burst(start: int, stop_: int) -> object:
        def op(tx: Transaction) -> None:
            for i in range(start, stop_):
                contact = tx.insert_contact("newsletter", f"reader{i}@example.org", "Ann", None, "en", now)
                tx.add_event(contact, ConsentEvent("signup", now, ip="192.0.2.1"))
                tx.add_confirmation(f"tok{i}", contact, now)
                tx.enqueue(confirmation_email(contact, f"tok{i}", new_message_id(SENDER)), now)

        return op

    try:
        for start in range(0, emails, 1000):
            await store.write(burst(start, min(start + 1000, emails)))  # type: ignore[arg-type]
    finally:
        await store.close()


async def plain_loop(port: int, ca: Path, emails: int) -> float:
    # An EmailMessage, as optin built it before its own MIME writer: aiosmtplib flattens it per send.
    message = as_email_message(
        compose_confirmation(
            Renderer(REPO_ROOT / "templates"),
            sender=SENDER,
            to="reader@example.org",
            language="en",
            list_title="Bench",
            first_name="Ann",
            confirm_url="http://127.0.0.1:1/confirm/" + "x" * 80,
            expires_days=7,
            message_id=new_message_id(SENDER),
        )
    )
    context = ssl.create_default_context(cafile=str(ca))
    left = iter(range(emails))

    async def connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True, tls_context=context,
                                 username="bench", password="bench-pass")  # noqa: S106  # fmt: skip
        await client.connect()
        for i in left:
            await client.send_message(
                message, sender="bench@example.com", recipients=[f"reader{i}@example.org"]
            )
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return time.perf_counter() - started


def on_the_workers_loop(work: Coroutine[Any, Any, float]) -> float:
    """Run ``work`` on the event loop the worker runs on: uvicorn's, uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=10_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="optin-mail-"))
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tmp / "relay.pem"))
    relay_port = free_port()
    sink = relay(relay_port, tmp)
    time.sleep(1.0)
    database = f"sqlite:///{tmp / 'mail.db'}"
    config = tmp / "mail.toml"
    config.write_text(
        f"""[server]
public_url = "http://127.0.0.1:1"
secret_key = "{SECRET}"
database = "{database}"
[smtp]
host = "127.0.0.1"
port = {relay_port}
security = "starttls"
username = "bench"
password = "bench-pass"
sender = "{SENDER}"
tls_ca_file = "{tmp / "ca.pem"}"
[forms.newsletter]
title = "Bench"
""",
        encoding="utf-8",
    )
    try:
        on_the_workers_loop(plain_loop(relay_port, tmp / "ca.pem", 500))  # warm-up, as on optin's side
        plain = on_the_workers_loop(plain_loop(relay_port, tmp / "ca.pem", args.emails))
        asyncio.run(fill(database, args.emails))
        worker_port = free_port()
        started = time.perf_counter()
        worker = launch(["-m", "service", "--config", str(config), "serve", "--role", "worker",
                         "--port", str(worker_port)], worker_port, "/readyz")  # fmt: skip
        ready = time.perf_counter()  # the process has started, imported and opened its database
        try:
            left_at_ready = args.emails - settled(database)
            while settled(database) < args.emails:
                time.sleep(0.05)
            ours = time.perf_counter() - started
            drain = time.perf_counter() - ready
        finally:
            stop(worker)
        dead = rows(database, "SELECT count(*) FROM outbox WHERE state != 'done'")[0][0]
    finally:
        stop(sink)
    print(f"mail bench: {args.emails} confirmation emails, {CONNECTIONS} connections, STARTTLS + AUTH relay,"
          f" {os.cpu_count()} cores, Python {sys.version.split()[0]},"
          f" {'uvloop' if importlib.util.find_spec('uvloop') else 'asyncio'} on both sides")  # fmt: skip
    print(f"plain aiosmtplib loop      {args.emails / plain:8.0f} emails/s   ({plain:.1f} s)")
    print(
        f"optin outbox (worker)      {args.emails / ours:8.0f} emails/s   ({ours:.1f} s, start-up included)"
    )
    print(
        f"optin outbox, once ready   {left_at_ready / drain:8.0f} emails/s   ({drain:.1f} s for the"
        f" {left_at_ready} emails left when /readyz answered)"
    )
    print(f"ratio: {left_at_ready / drain * plain / args.emails:.2f} once ready,"
          f" {plain / ours:.2f} with start-up; jobs not done: {dead}")  # fmt: skip


def settled(database: str) -> int:
    return int(rows(database, "SELECT count(*) FROM outbox WHERE state != 'pending'")[0][0])


if __name__ == "__main__":
    main()
