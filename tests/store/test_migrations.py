"""Versioned migrations: the same versions on both databases, upgrades that keep every row.

tests/data/schema/optin-0.1-sqlite.sql is a frozen copy of the schema optin 0.1 created (with
``CREATE TABLE IF NOT EXISTS`` and no version). A database made with it is filled, upgraded by
the service starting on it, and then used: every row is still there and every feature works.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from service.store import migrate, open_store
from service.store.dialect import connect
from service.tokens import UNSUBSCRIBE, Tokens
from tests.support.app_server import (
    SECRET,
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    sign_up,
    wait_for,
)
from tests.support.db import rows
from tests.support.postgres import Cluster
from tests.support.relay import Relay
from tests.test_cli import config_file, optin

FROZEN = Path(__file__).resolve().parents[1] / "data" / "schema" / "optin-0.1-sqlite.sql"
NOW = time.time()
STABLE = {
    "contacts": ["id", "form_id", "email", "first_name", "last_name", "language", "created_at"],
    "confirmations": ["token_id", "contact_id", "created_at"],
    "outbox": ["id", "kind", "idempotency_key", "payload", "created_at"],
}


def _frozen_columns() -> dict[str, list[str]]:
    db = sqlite3.connect(":memory:")
    db.executescript(FROZEN.read_text())
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: [d[0] for d in db.execute(f"SELECT * FROM {t}").description] for t in tables}


FROZEN_NAMES = _frozen_columns()


def test_both_databases_have_the_same_numbered_migrations() -> None:
    sqlite, postgresql = migrate.available("sqlite"), migrate.available("postgresql")
    assert [(m.version, m.name) for m in sqlite] == [(m.version, m.name) for m in postgresql]
    assert [m.version for m in sqlite] == list(range(1, migrate.latest("sqlite") + 1))
    # psycopg would read a "?" as a placeholder.
    assert all("?" not in m.sql for m in postgresql)


def _schema(url: str) -> dict[str, list[str]]:
    with connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                if conn.dialect.name == "sqlite"
                else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
        ]
        return {t: [d[0] for d in conn.execute(f"SELECT * FROM {t} WHERE 1 = 0").description] for t in tables}


def test_sqlite_and_postgresql_end_with_the_same_tables_and_columns(
    postgres: Cluster, sqlite_url: str
) -> None:
    pg_url = postgres.new_database(migrated=False)
    for url in (sqlite_url, pg_url):
        report = migrate.upgrade(url)
        assert (report.found, report.expected) == (0, migrate.latest("sqlite"))
        assert [m.version for m in report.migrations] == list(range(1, report.expected + 1))
    assert _schema(sqlite_url) == _schema(pg_url)
    assert migrate.upgrade(pg_url).migrations == []  # a second run has nothing to do


def _fill_release_0_1(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """A database as optin 0.1 left it: a pending signup with its email queued, a confirmed
    contact with a ledger, link evidence, counters, a remembered port, an erasure."""
    db = sqlite3.connect(path)
    db.executescript(FROZEN.read_text())
    db.executescript(
        f"""
        INSERT INTO contacts VALUES (1, 'newsletter', 'alice@example.org', 'Alice', NULL, 'fr', 'pending',
            {NOW - 3600}, {NOW - 3600}, NULL, NULL);
        INSERT INTO contacts VALUES (2, 'newsletter', 'bob@example.org', 'Bob', 'B', 'en', 'confirmed',
            {NOW - 86400}, {NOW - 80000}, {NOW - 80000}, NULL);
        INSERT INTO consent_events VALUES (1, 1, 'signup', {NOW - 3600}, '192.0.2.1', 'Firefox',
            'https://example.org/', 'Yes, email me.', 'form=newsletter via=form');
        INSERT INTO consent_events VALUES (2, 2, 'signup', {NOW - 86400}, '192.0.2.2', 'Safari', NULL,
            'Yes, email me.', 'form=newsletter via=form');
        INSERT INTO consent_events VALUES (3, 2, 'confirmation', {NOW - 80000}, '192.0.2.2', 'Safari',
            NULL, NULL, NULL);
        INSERT INTO confirmations VALUES ('tok-alice', 1, {NOW - 3600}, NULL);
        INSERT INTO confirmations VALUES ('tok-bob', 2, {NOW - 86400}, {NOW - 80000});
        INSERT INTO outbox VALUES (1, 'confirmation_email', 'confirmation-email:tok-bob',
            '{{"contact_id": 2, "message_id": "<b@example.com>", "token_id": "tok-bob"}}', 'done', 1,
            {NOW - 86400}, NULL, NULL, {NOW - 86400}, {NOW - 86390});
        INSERT INTO outbox VALUES (2, 'confirmation_email', 'confirmation-email:tok-alice',
            '{{"contact_id": 1, "message_id": "<a@example.com>", "token_id": "tok-alice"}}', 'pending', 0,
            {NOW - 60}, NULL, NULL, {NOW - 3600}, {NOW - 3600});
        INSERT INTO outbox VALUES (3, 'connector_upsert', 'upsert:main-list:tok-bob',
            '{{"connector": "main-list", "contact_id": 2}}', 'dead', 25, {NOW - 80000}, NULL,
            'permanent failure: 400', {NOW - 80000}, {NOW - 70000});
        INSERT INTO kv VALUES ('smtp.auto_port', '587');
        INSERT INTO once_keys VALUES ('altcha:abc', {NOW + 3600});
        INSERT INTO connector_health VALUES ('main-list', NULL, NULL, {NOW - 70000}, '400', {NOW - 80000},
            3, 1, NULL, {NOW - 70000}, {NOW - 70000});
        INSERT INTO rate_hits VALUES ('mail:abc', {NOW - 3600});
        INSERT INTO rate_buckets VALUES ('ip:192.0.2.1', {int((NOW - 3600) // 60)}, 1);
        INSERT INTO link_events VALUES (1, 'tok-bob', {NOW - 80010}, 'GET', 'shown', '192.0.2.2', 'Safari', NULL);
        INSERT INTO erasures VALUES ('0123abcd', {NOW - 500});
        """
    )
    db.commit()
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    before = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    db.close()
    return before


async def test_a_0_1_database_is_upgraded_on_start_and_keeps_every_row_and_feature(
    tmp_path: Path, starttls_relay: Relay, ca_file: str, nameserver: str
) -> None:
    path = tmp_path / "optin.db"
    before = _fill_release_0_1(path)
    url = f"sqlite:///{path}"
    async with serve(relay_settings(url, nameserver, starttls_relay, ca_file)) as (base, _):
        # The email that was waiting in the 0.1 outbox goes out, and its link confirms Alice.
        mail = await wait_for(lambda: starttls_relay.to("alice@example.org"), what="Alice's waiting email")
        async with client(base) as http:
            assert "Merci" in (await confirm(http, link_in(mail[-1], "confirm"))).text
            # Bob, confirmed under 0.1, can still leave with the unsubscribe link 0.1 emailed him.
            leave = f"/unsubscribe/{Tokens(SECRET).sign(UNSUBSCRIBE, {'c': 2})}"
            assert (await http.post(leave)).status_code == 200
            # A new signup works, and gets an id of its own.
            await sign_up(http, starttls_relay, "carol@example.org")
            erase = await http.delete("/v1/contacts/alice@example.org")
            assert erase.status_code in (401, 404)  # the admin API needs a key: a feature, untouched

    with connect(url) as conn:
        assert migrate.current_version(conn) == migrate.latest("sqlite")
        for table, old_rows in before.items():
            # Columns the features above change on purpose (a status, used_at, a job's state) are
            # checked below; every other value of every 0.1 row must be exactly as it was.
            columns = STABLE.get(table) or FROZEN_NAMES[table]
            index = [FROZEN_NAMES[table].index(c) for c in columns]
            kept = set(conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall())
            missing = [r for r in old_rows if tuple(r[i] for i in index) not in kept]
            assert not missing, (table, missing)
        statuses = dict(conn.execute("SELECT email, status FROM contacts").fetchall())
        assert statuses == {
            "alice@example.org": "confirmed",
            "bob@example.org": "unsubscribed",
            "carol@example.org": "pending",
        }
        ledger = conn.execute("SELECT contact_id, event FROM consent_events ORDER BY id").fetchall()
        assert ledger[:3] == [(1, "signup"), (2, "signup"), (2, "confirmation")]
        assert (1, "confirmation") in ledger and (2, "unsubscribe") in ledger
        # The outbox's new columns were filled in from each old job's payload.
        assert conn.execute(
            "SELECT id, contact_id, connector FROM outbox WHERE id <= 3 ORDER BY id"
        ).fetchall() == [
            (1, 2, None),
            (2, 1, None),
            (3, 2, "main-list"),
        ]
        assert conn.execute("SELECT value FROM kv WHERE key = 'smtp.auto_port'").fetchone() == ("587",)
        assert conn.execute("SELECT count(*) FROM erasures").fetchone() == (1,)
        carol = conn.execute("SELECT id FROM contacts WHERE email = 'carol@example.org'").fetchone()[0]
        assert carol == 3


async def test_ids_of_deleted_contacts_are_never_given_again(db_url: str) -> None:
    store = await open_store(db_url, auto_migrate=True)
    try:
        first = await store.write(lambda tx: tx.insert_contact("f", "a@example.org", None, None, "en", NOW))
        second = await store.write(lambda tx: tx.insert_contact("f", "b@example.org", None, None, "en", NOW))
        await store.write(lambda tx: tx.erase("b@example.org", "hash-b", NOW))
        third = await store.write(lambda tx: tx.insert_contact("f", "c@example.org", None, None, "en", NOW))
    finally:
        await store.close()
    assert first < second < third


def _write_config(tmp_path: Path, database: str, **server: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in server.items())
    return config_file(tmp_path, f'[server]\nsecret_key = "{SECRET}"\ndatabase = "{database}"\n{extra}')


async def test_serve_refuses_a_schema_newer_than_it_knows(db_url: str, tmp_path: Path) -> None:
    store = await open_store(db_url, auto_migrate=True)
    await store.write(
        lambda tx: tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)"
        )
    )
    await store.close()
    config = _write_config(tmp_path, db_url)
    for command in (["serve", "--port", "1"], ["check-config"], ["outbox"], ["migrate"]):
        code, out = await optin("--config", config, *command)
        assert code == 2, out
        assert "schema is at version 99, newer than this optin knows" in out
        assert "Traceback" not in out


async def test_postgresql_waits_for_optin_migrate_unless_auto_migrate(
    postgres: Cluster, tmp_path: Path
) -> None:
    url = postgres.new_database(migrated=False)
    config = _write_config(tmp_path, url)
    code, out = await optin("--config", config, "serve", "--port", "1")
    assert code == 2 and "run `optin migrate`" in out and "Traceback" not in out
    code, out = await optin("--config", config, "check-config")
    assert code == 2 and "the database is empty: run `optin migrate`" in out

    code, out = await optin("--config", config, "migrate", "--dry-run")
    assert code == 0 and "CREATE TABLE contacts" in out and "-- migration 0003" in out
    assert rows(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'contacts'") == [(0,)]

    code, out = await optin("--config", config, "migrate")
    assert code == 0 and "applied 0001 initial" in out and f"→ {migrate.latest('postgresql')}" in out
    code, out = await optin("--config", config, "migrate")
    assert code == 0 and "nothing to do" in out
    code, out = await optin("--config", config, "check-config")
    latest = migrate.latest("postgresql")
    assert code == 0 and f"database check: reachable, schema version {latest} (current)" in out


def test_two_instances_migrating_at_once_apply_each_migration_once(postgres: Cluster) -> None:
    url = postgres.new_database(migrated=False)
    reports: list[migrate.Upgrade] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(migrate.upgrade(url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    applied = sorted(m.version for r in reports for m in r.migrations)
    assert applied == list(range(1, migrate.latest("postgresql") + 1))
    assert rows(url, "SELECT count(*) FROM schema_migrations") == [(migrate.latest("postgresql"),)]


@pytest.mark.parametrize("auto", [True, False])
async def test_sqlite_follows_auto_migrate(auto: bool, sqlite_url: str) -> None:
    _fill_release_0_1(Path(sqlite_url.removeprefix("sqlite:///")))
    if auto:
        store = await open_store(sqlite_url, auto_migrate=True)
        assert await asyncio.wait_for(store.schema_version(), 10) == migrate.latest("sqlite")
        await store.close()
        return
    with pytest.raises(Exception, match="schema is at version 1; this optin needs version"):
        await open_store(sqlite_url, auto_migrate=False)
