"""How long the admin's reports take on a million contacts (service.store.reports).

Fills a fresh database with ``--contacts`` contacts spread over 90 days, three forms and twenty
recipient domains, with what the service would have written for them: the ledger's signup and
confirmation_email_sent events, a confirmation link each, link events (a person's GET and POST
for those who confirmed, a scanner's HEAD and POST for some others), confirmations, a done upsert
job per confirmed contact, and the funnel columns the store keeps on each contact from those.
Then times each report for 7, 30 and 90 days.

    .venv/bin/python -m bench.reports                       # SQLite, 1,000,000 contacts
    .venv/bin/python -m bench.reports --database postgresql://…/bench --contacts 200000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

from service.store import open_store
from service.store.dialect import connect
from service.store.migrate import upgrade
from service.store.reports import Reports

DAY = 86_400.0
FORMS = ("newsletter", "offers", "club")
DOMAINS = [f"mail{i}.example" for i in range(17)] + ["gmail.com", "outlook.com", "orange.fr"]
CHUNK = 20_000


def rows(count: int, now: float, rng: random.Random) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    batch: dict[str, list[tuple[Any, ...]]] = {
        k: [] for k in ("contacts", "events", "links", "clicks", "jobs")
    }
    for i in range(1, count + 1):
        created = now - rng.random() * 90 * DAY
        confirmed = created + rng.expovariate(1 / 1800) if rng.random() < 0.6 else None
        form = FORMS[i % len(FORMS)]
        domain = rng.choice(DOMAINS)
        emailed = created + 2 if rng.random() < 0.95 else None
        token = f"t{i}"
        batch["events"].append((i, "signup", created))
        if emailed:
            batch["events"].append((i, "confirmation_email_sent", emailed))
        batch["links"].append((token, i, created, confirmed))
        seen = None
        if confirmed:
            batch["clicks"] += [
                (token, confirmed - 5, "GET", "shown"),
                (token, confirmed, "POST", "confirmed"),
            ]
            batch["jobs"].append(
                ("connector_upsert", f"upsert:{i}", "{}", "done", 1, confirmed, confirmed, i, form)
            )
            seen = 3
        elif rng.random() < 0.2:
            batch["clicks"] += [
                (token, created + 60, "HEAD", "shown"),
                (token, created + 61, "POST", "missing_nonce"),
            ]
            seen = 2
        status = "confirmed" if confirmed else "pending"
        batch["contacts"].append(
            (
                i,
                form,
                f"user{i}@{domain}",
                "en",
                status,
                created,
                created,
                confirmed,
                domain,
                emailed,
                seen,
                confirmed,
            )
        )
        if i % CHUNK == 0 or i == count:
            yield batch
            batch = {k: [] for k in batch}


def fill(url: str, count: int, now: float) -> None:
    upgrade(url)
    rng = random.Random(13)
    with connect(url) as conn:
        conn.execute(conn.dialect.begin)
        for batch in rows(count, now, rng):
            conn.executemany(
                "INSERT INTO contacts (id, form_id, email, language, status, created_at, updated_at, confirmed_at,"
                " email_domain, emailed_at, link_seen, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch["contacts"],
            )
            conn.executemany(
                "INSERT INTO consent_events (contact_id, event, at) VALUES (?, ?, ?)", batch["events"]
            )
            conn.executemany(
                "INSERT INTO confirmations (token_id, contact_id, created_at, used_at) VALUES (?, ?, ?, ?)",
                batch["links"],
            )
            conn.executemany(
                "INSERT INTO link_events (token_id, at, method, outcome) VALUES (?, ?, ?, ?)", batch["clicks"]
            )
            conn.executemany(
                "INSERT INTO outbox (kind, idempotency_key, payload, state, attempts, run_at, created_at,"
                " updated_at, contact_id, connector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*j[:7], j[6], j[7], "main-list") for j in batch["jobs"]],
            )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")


async def timed(what: str, call: Awaitable[Any]) -> None:
    started = time.perf_counter()
    await call
    print(f"  {what:<44} {1000 * (time.perf_counter() - started):>9.0f} ms")


async def measure(url: str, now: float) -> None:
    store = await open_store(url, auto_migrate=False)
    reports = Reports(store)
    try:
        for days in (7, 30, 90):
            since = now - days * DAY
            print(f"{days} days:")
            await timed("activity per day and form (Overview chart)", reports.daily(since, now))
            await timed("cohort and confirmation rate", reports.cohort(since, now))
            await timed("median time to confirm", reports.median_confirm_seconds(since, now))
            await timed("funnel per form and domain", reports.funnel(since, now))
        await timed("outbox depth and oldest due job (/metrics)", reports.outbox_depth(now))
        await timed("dead jobs, first page (Outbox)", reports.jobs("dead"))
    finally:
        await reports.aclose()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument(
        "--database", help="an empty database URL (default: a SQLite file in a temporary folder)"
    )
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        fill(url, args.contacts, now)
        print(
            f"filled {args.contacts:,} contacts in {time.perf_counter() - started:.0f} s ({url.split(':')[0]})"
        )
        asyncio.run(measure(url, now))


if __name__ == "__main__":
    main()
