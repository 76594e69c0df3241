"""The outbox reads the contacts of a claimed handful of emails in one query (Delivery.prepare),
and an email still goes by its contact as it is now: a read ahead counts only for a moment."""

from __future__ import annotations

import time

from service import jobs
from service.delivery import READ_AHEAD_SECONDS, Delivery
from service.mail.smtp import SmtpMailer
from service.outbox import Done
from service.render import Renderer
from service.store import Transaction, open_store
from service.tokens import Tokens
from tests.support.app_server import relay_settings
from tests.support.relay import Relay


async def test_a_contact_read_ahead_counts_only_for_a_moment(
    db_url: str, starttls_relay: Relay, ca_file: str, nameserver: str
) -> None:
    settings = relay_settings(db_url, nameserver, starttls_relay, ca_file)("http://127.0.0.1:1")
    store = await open_store(db_url)
    mailer = SmtpMailer(settings.smtp)
    now = [time.time()]
    try:

        def seed(tx: Transaction) -> list[int]:
            ids = []
            for i in range(3):
                contact = tx.insert_contact("newsletter", f"r{i}@example.org", None, None, "en", now[0])
                tx.add_confirmation(f"token{i}", contact, now[0])
                tx.enqueue(jobs.confirmation_email(contact, f"token{i}", f"<m{i}@example.com>"), now[0])
                ids.append(contact)
            return ids

        first, second, _ = await store.write(seed)
        claimed = sorted(await store.claim_jobs(now[0], 10, 60), key=lambda job: job.id)
        renderer = Renderer(settings.server.templates_dir)
        tokens = Tokens(settings.server.secret_key)
        delivery = Delivery(settings, store, mailer, {}, renderer, tokens, clock=lambda: now[0])
        await delivery.prepare(claimed)

        def unsubscribe(tx: Transaction) -> None:
            for contact in (first, second):
                tx.set_status(contact, "unsubscribed", now[0])

        await store.write(unsubscribe)
        # A moment later the first email goes by the contact as read ahead, as it would have
        # gone had it been sent a moment earlier …
        assert isinstance(await delivery.run(claimed[0]), Done)
        # … but once that moment has passed, each job reads its contact again.
        now[0] += READ_AHEAD_SECONDS
        assert await delivery.run(claimed[1]) == "not sent: the contact is already unsubscribed"
        assert isinstance(await delivery.run(claimed[2]), Done)
        assert [to for _, (to,) in starttls_relay.envelopes] == ["r0@example.org", "r2@example.org"]
    finally:
        await mailer.aclose()
        await store.close()
