"""Housekeeping in short rounds: old unconfirmed contacts, finished jobs and dead counters go; what
someone may still need (confirmed people, dead jobs, recent counts) stays."""

from __future__ import annotations

import time
from dataclasses import replace

from service.retention import ROUND, purge
from service.settings import OutboxSettings
from service.store import ConsentEvent, NewJob, Transaction, open_store
from tests.support.app_server import base_config, make_settings
from tests.support.db import rows

DAY = 86_400.0


def _contact(tx: Transaction, email: str, at: float, confirmed: bool = False) -> int:
    contact_id = tx.insert_contact("newsletter", email, None, None, "en", at)
    tx.add_event(contact_id, ConsentEvent("signup", at, ip="192.0.2.1"))
    tx.add_confirmation(f"tok-{email}", contact_id, at)
    tx.add_link_event(f"tok-{email}", at, "GET", "shown", "192.0.2.1", "UA")
    if confirmed:
        tx.set_status(contact_id, "confirmed", at)
    return contact_id


async def test_purge_goes_in_rounds_and_keeps_what_is_still_needed(db_url: str) -> None:
    now = time.time()
    old, recent = now - 40 * DAY, now - DAY
    store = await open_store(db_url, auto_migrate=True)
    try:

        def fill(tx: Transaction) -> None:
            for i in range(ROUND * 2 + 50):
                _contact(tx, f"old{i}@example.org", old)
            for i in range(3):
                _contact(tx, f"recent{i}@example.org", recent)
                _contact(tx, f"kept{i}@example.org", old, confirmed=True)
            for key, state, at in (
                ("a", "done", old),
                ("b", "dropped", old),
                ("c", "dead", old),
                ("d", "done", recent),
            ):
                tx.enqueue(NewJob("confirmation_email", key, {}), at)
                tx.execute(
                    "UPDATE outbox SET state = ?, updated_at = ? WHERE idempotency_key = ?", (state, at, key)
                )
            tx.add_hit("mail:old", now - 60 * DAY)
            tx.add_hit("mail:new", now - 60)
            tx.claim_once("gone", now - 1, now - 10)
            tx.claim_once("still", now + 600, now)
            for sid, expires in (("expired", now - 1), ("live", now + 3600)):
                tx.execute("INSERT INTO admin_signouts (sid, expires_at) VALUES (?, ?)", (sid, expires))

        await store.write(fill)
        assert await store.write(lambda tx: tx.purge_unconfirmed(now - 30 * DAY, ROUND)) == ROUND  # one round
        settings = make_settings(base_config(db_url, "http://127.0.0.1:1", "127.0.0.1:53"))
        settings = replace(settings, outbox=replace(OutboxSettings(), keep_done_days=30.0))
        purged = await purge(store, settings, now)
    finally:
        await store.close()
    assert purged == ROUND + 50
    emails = {e for (e,) in rows(db_url, "SELECT email FROM contacts")}
    assert emails == {f"recent{i}@example.org" for i in range(3)} | {f"kept{i}@example.org" for i in range(3)}
    # Their ledger, links and evidence went with them; everyone else's stayed.
    assert rows(db_url, "SELECT count(*) FROM consent_events") == [(6,)]
    assert rows(db_url, "SELECT count(*) FROM confirmations") == [(6,)]
    assert rows(db_url, "SELECT count(*) FROM link_events") == [(6,)]
    assert sorted(rows(db_url, "SELECT idempotency_key, state FROM outbox")) == [("c", "dead"), ("d", "done")]
    assert rows(db_url, "SELECT key FROM rate_hits") == [("mail:new",)]
    assert rows(db_url, "SELECT key FROM once_keys") == [("still",)]
    # A signed-out session that has expired anyway needs no record; one still valid keeps it.
    assert rows(db_url, "SELECT sid FROM admin_signouts") == [("live",)]
