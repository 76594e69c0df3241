"""The owner's daily digest: once a day whatever the replicas, with yesterday's figures."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime

from service.digest import digest_day, queue_digest
from service.settings import Settings
from service.store import NewJob, Transaction, open_store
from tests.admin.support import with_admin
from tests.support.app_server import relay_settings, serve, text_of, wait_for
from tests.support.db import rows
from tests.support.relay import Relay

OWNER = "owner@example.org"
DAY = 86_400


def test_the_digest_is_due_from_its_hour_and_tells_yesterday() -> None:
    morning = datetime(2025, 3, 2, 6, 59, tzinfo=UTC).timestamp()
    assert digest_day(morning, 7) is None
    assert digest_day(morning + 60, 7) == "2025-03-01"
    assert digest_day(datetime(2025, 1, 1, 0, 0, tzinfo=UTC).timestamp(), 0) == "2024-12-31"


async def yesterday_activity(db_url: str) -> None:
    """Two signups on the newsletter yesterday, one confirmed; a dead email job."""
    store = await open_store(db_url)
    noon = (int(time.time() // DAY) - 1) * DAY + 12 * 3600.0

    def write(tx: Transaction) -> None:
        ann = tx.insert_contact("newsletter", "ann@example.org", None, None, "en", noon)
        tx.insert_contact("newsletter", "bob@example.org", None, None, "en", noon + 60)
        tx.set_status(ann, "confirmed", noon + 120)
        tx.execute("UPDATE contacts SET confirmed_at = ? WHERE id = ?", (noon + 120, ann))
        tx.enqueue(NewJob("confirmation_email", "confirmation-email:x", {"contact_id": ann}), noon)
        tx.execute("UPDATE outbox SET state = 'dead', last_error = 'permanent failure: 550' WHERE 1 = 1")

    try:
        await store.write(write)
    finally:
        await store.close()


async def test_two_replicas_queue_one_digest_and_the_owner_gets_it(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    await yesterday_activity(db_url)
    plain = relay_settings(db_url, nameserver, starttls_relay, ca_file)

    def owned(url: str) -> Settings:
        settings = plain(url)
        return replace(settings, server=replace(settings.server, owner_email=OWNER))

    configure = with_admin(owned, daily_digest=True, digest_hour=0)
    # Two stores racing, as two replicas' clocks would: one job.
    stores = [await open_store(db_url) for _ in range(2)]
    try:
        settings = configure("http://127.0.0.1:9")
        queued = await asyncio.gather(*(queue_digest(s, settings, time.time()) for s in stores))
        assert sorted(queued) == [False, True]
    finally:
        for store in stores:
            await store.close()
    async with serve(configure) as _, serve(configure) as _:  # and two running services
        mail = await wait_for(lambda: starttls_relay.to(OWNER), what="the digest")
        await asyncio.sleep(1.0)  # a second one would have come by now
    assert len(starttls_relay.to(OWNER)) == 1
    assert rows(db_url, "SELECT count(*) FROM outbox WHERE kind = 'digest_email'") == [(1,)]
    day = digest_day(time.time(), 0)
    assert mail[0]["Subject"] == f"[optin] {day}: signups and confirmations — needs attention"
    assert mail[0]["Auto-Submitted"] == "auto-generated"
    text = text_of(mail[0])
    assert "newsletter: 2 signup(s), 1 confirmation(s), 0 unsubscribe(s)" in text
    assert "1 job(s) are dead in the outbox" in text
    assert "/admin" in text
