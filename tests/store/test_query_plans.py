"""Every lookup on a hot or periodic path goes through an index: no query a signup, a click, the
worker, the probes or housekeeping runs reads a whole table that grows with the list.

The test records every statement the real service runs (in this process, on SQLite) through a
walk of each path, then asks SQLite for the plan of each one with the same parameters. A
"SCAN" of a growing table (even of its covering index: that is still every row) fails it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from service.retention import purge
from service.store import open_store
from service.store.dialect import SqliteConnection
from tests.support.app_server import (
    HOOK_SECRET,
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    sign_up,
    wait_for,
)
from tests.support.relay import Relay
from tests.support.webhook_receiver import Receiver, run_receiver
from tests.test_privacy import admin_settings

GROWING = ("contacts", "consent_events", "confirmations", "link_events", "outbox", "rate_hits", "rate_buckets",
           "once_keys", "erasures")  # fmt: skip
NOT_A_QUERY = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|CREATE|INSERT INTO \w+ \([^)]*\) VALUES)", re.I
)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    seen: list[tuple[str, tuple[Any, ...]]] = []
    execute, executemany = SqliteConnection.execute, SqliteConnection.executemany

    def recording(self: SqliteConnection, sql: str, params: Sequence[Any] = ()) -> Any:
        seen.append((sql, tuple(params)))
        return execute(self, sql, params)

    def recording_many(self: SqliteConnection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        seen.extend((sql, tuple(r)) for r in rows[:1])
        executemany(self, sql, rows)

    monkeypatch.setattr(SqliteConnection, "execute", recording)
    monkeypatch.setattr(SqliteConnection, "executemany", recording_many)
    return seen


async def test_hot_and_periodic_paths_never_scan_a_growing_table(
    statements: list[tuple[str, tuple[Any, ...]]],
    sqlite_url: str,
    starttls_relay: Relay,
    ca_file: str,
    nameserver: str,
) -> None:
    async with run_receiver(Receiver(HOOK_SECRET)) as hook:
        configure, key = admin_settings(
            relay_settings(sqlite_url, nameserver, starttls_relay, ca_file, hook.url)
        )
        async with serve(configure) as (url, settings), client(url) as http:
            statements.clear()  # what start-up ran (migrations, pragmas) is not a hot path
            link = await sign_up(http, starttls_relay, "ann@example.org")  # signup, worker, email
            assert (await confirm(http, link)).status_code == 200  # page, click, list job
            await wait_for(lambda: hook.events, what="the list update")
            welcome = await wait_for(
                lambda: [m for m in starttls_relay.to("ann@example.org") if "unsubscribe" in str(m)]
            )
            leave = link_in(welcome[-1], "unsubscribe")
            await http.get(leave)
            await http.post(leave)
            await http.post("/confirm/resend", data={"token": link.rsplit("/", 1)[1]})
            for path in ("/healthz", "/readyz", "/livez"):
                assert (await http.get(path)).status_code == 200
            auth = {"Authorization": f"Bearer {key}"}
            assert (await http.get("/v1/contacts/ann@example.org/export", headers=auth)).status_code == 200
            assert (await http.delete("/v1/contacts/ann@example.org", headers=auth)).status_code == 200
        store = await open_store(sqlite_url)
        try:
            await purge(store, settings, time.time() + 400 * 86_400)  # every kind of row is old by then
        finally:
            await store.close()

    db = sqlite3.connect(Path(sqlite_url.removeprefix("sqlite:///")))
    scans: dict[str, set[str]] = {}
    checked = 0
    for sql, params in statements:
        if NOT_A_QUERY.match(sql):
            continue
        checked += 1
        for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall():
            detail = str(row[-1])
            if any(re.match(rf"SCAN {table}\b", detail) for table in GROWING):
                scans.setdefault(" ".join(sql.split()), set()).add(detail)
    db.close()
    assert checked > 40  # the walk really ran the paths
    assert not scans, "\n".join(f"{sql}\n    -> {sorted(plans)}" for sql, plans in scans.items())
