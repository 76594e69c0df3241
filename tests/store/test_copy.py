"""``optin copy-db``: SQLite → PostgreSQL → SQLite, the ledger intact, ids kept and never reused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.store.copy import copy_order
from service.store.dialect import connect
from tests.support.app_server import client, confirm, relay_settings, serve, sign_up
from tests.support.db import rows
from tests.support.postgres import Cluster
from tests.support.relay import Relay
from tests.test_cli import optin


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with connect(url) as conn:
        tables = copy_order(conn)
    assert {"contacts", "consent_events", "outbox", "import_runs"} <= set(tables)
    return {t: sorted(rows(url, f"SELECT * FROM {t}"), key=repr) for t in tables}


async def _people(url: str, relay: Relay, ca_file: str, nameserver: str, emails: list[str]) -> None:
    async with serve(relay_settings(url, nameserver, relay, ca_file)) as (base, _), client(base) as http:
        for email in emails:
            link = await sign_up(http, relay, email)
            if not email.startswith("pending"):
                assert (await confirm(http, link)).status_code == 200


async def test_a_database_moves_to_postgresql_and_back_with_its_ledger(
    postgres: Cluster, starttls_relay: Relay, ca_file: str, nameserver: str, tmp_path: Path
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'before.db'}"
    await _people(
        sqlite_url,
        starttls_relay,
        ca_file,
        nameserver,
        ["ann@example.org", "pending@example.org", "bob@example.org"],
    )
    before = _dump(sqlite_url)
    assert before["consent_events"] and before["link_events"] and before["outbox"]

    pg_url = postgres.new_database(migrated=False)
    code, out = await optin("copy-db", sqlite_url, pg_url)
    assert code == 0, out
    assert f"copied {sum(len(v) for v in before.values())} row(s)" in out
    assert _dump(pg_url) == before

    # Refused in words when the target is not empty: a copy never merges.
    code, out = await optin("copy-db", sqlite_url, pg_url)
    assert code == 2 and "already holds data (table contacts)" in out and "Traceback" not in out

    # The service runs on the copy: a new contact gets a new id, after every copied one.
    await _people(pg_url, starttls_relay, ca_file, nameserver, ["carol@example.org"])
    ids = dict(rows(pg_url, "SELECT email, id FROM contacts"))
    assert ids["carol@example.org"] > max(v for k, v in ids.items() if k != "carol@example.org")

    back = f"sqlite:///{tmp_path / 'after.db'}"
    code, out = await optin("copy-db", pg_url, back)
    assert code == 0, out
    assert _dump(back) == _dump(pg_url)
    assert rows(
        back, "SELECT event FROM consent_events WHERE contact_id = ? ORDER BY id", (ids["ann@example.org"],)
    )[:2] == [
        ("signup",),
        ("confirmation_email_sent",),
    ]
