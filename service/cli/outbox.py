"""``optin outbox [list|retry|drop]``: the queued emails and list updates, and what to do with them."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from service.cli.common import checked_settings
from service.settings import Settings

STATES = ("pending", "done", "dead", "dropped")


def add_parser(sub: Any) -> None:
    outbox = sub.add_parser("outbox", help="list, retry or drop queued emails and list updates")
    outbox.add_argument(
        "action",
        nargs="?",
        choices=["list", "retry", "drop"],
        default="list",
        help="list jobs (default), queue dead ones again, or drop waiting ones",
    )
    outbox.add_argument("ids", nargs="*", type=int, help="job ids for retry/drop")
    outbox.add_argument("--state", choices=STATES, help="with list: only jobs in this state")
    outbox.add_argument("--limit", type=int, default=50, help="with list: at most this many jobs (50)")
    outbox.add_argument("--all-dead", action="store_true", help="with retry: every dead job")
    outbox.set_defaults(func=cmd_outbox)


async def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    from service.store import open_store

    store = await open_store(settings.server.database, settings.server.auto_migrate)
    try:
        now = time.time()
        if args.action == "retry":
            ids = [j.id for j in await store.jobs("dead", 10_000)] if args.all_dead else args.ids
            done = [i for i in ids if await store.retry_job(i, now)]
            print(f"queued again: {len(done)} job(s)" + (f" ({', '.join(map(str, done))})" if done else ""))
            return 0 if done or not ids else 1
        if args.action == "drop":
            done = [i for i in args.ids if await store.drop_job(i, now)]
            print(f"dropped: {len(done)} job(s)")
            return 0 if len(done) == len(args.ids) else 1
        counts = await store.job_counts()
        print("outbox: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATES))
        for job in await store.jobs(args.state, args.limit):
            due = datetime.fromtimestamp(job.run_at, UTC).isoformat(timespec="seconds")
            line = f"  #{job.id} {job.kind:<22} {job.state:<8} attempts={job.attempts} next={due}"
            print(line + (f"\n      last: {job.last_error}" if job.last_error else ""))
        await _print_paces(store, now)
        return 0
    finally:
        await store.close()


async def _print_paces(store: Any, now: float) -> None:
    """Recipient domains service.pacing is slowing down, and why."""
    from service.store.pacing import paces

    slowed = await paces(store)
    if not slowed:
        return
    print("Recipient domains sent to slowly (they deferred our mail):")
    for pace in slowed:
        when = datetime.fromtimestamp(pace.not_before, UTC).isoformat(timespec="seconds")
        wait = f"next send not before {when}" if pace.not_before > now else "sending again, spaced out"
        print(f"  {pace.domain}: {pace.strikes} deferral(s) in a row, {wait}; last answer: {pace.last_reply}")


def cmd_outbox(args: argparse.Namespace) -> int:
    return asyncio.run(_outbox(checked_settings(args), args))
