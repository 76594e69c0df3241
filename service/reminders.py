"""One reminder to a pending contact who never opened their confirmation link.

A form with ``reminder_after_hours`` queues, with each confirmation email, a ``reminder`` job due
that many hours later: a row in the outbox, so it survives restarts and runs once however many
workers share the database (the outbox leases it to one of them). When it runs it looks at the
contact again, and decides, in one transaction, whether the reminder goes: only to a contact
still pending, whose link is still valid and was never opened, who got no newer email, never
unsubscribed from this list, and whose address was never erased; and only within the address's
email budget, which the reminder spends like any confirmation email. The decision is written to
the ledger, and the email itself is one more job (``reminder_email``), retried like any email.
"""

from __future__ import annotations

from collections.abc import Callable

from service import jobs
from service.limits import address_hash, allow_confirmation_email, budget_key
from service.mail.compose import new_message_id
from service.settings import Settings
from service.store import ConsentEvent, Job, Store, Transaction

DAY = 86_400.0


class Reminders:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.max_age = settings.server.token_max_age_days * DAY

    def _why_not(self, tx: Transaction, job: Job, now: float) -> str | None:
        """Why no reminder may go, or None when one may."""
        contact = tx.contact(int(job.payload["contact_id"]))
        if contact is None:
            return "the contact no longer exists (erased or purged)"
        if contact.status != "pending":
            return f"the contact is {contact.status}"
        token_id = str(job.payload["token_id"])
        row = tx.code_row(token_id)
        if row is None or row.used_at is not None:
            return "this confirmation no longer waits"
        if row.created_at + self.max_age <= now:
            return "the link has expired"
        if tx.newer_email(contact.id, row.created_at):
            return "a newer confirmation email was sent"
        if tx.link_opened(token_id):
            return "the link was opened"
        if tx.has_event(contact.id, "unsubscribe"):
            return "this address unsubscribed from the list before"
        if tx.erased_at(address_hash(self.settings.server.secret_key, contact.email)) is not None:
            return "this address asked to be erased before"
        return None

    async def decide(self, job: Job) -> str:
        """Run a due ``reminder`` job: queue the reminder email, or say why not."""
        now = self.clock()
        message_id = new_message_id(self.settings.smtp.sender)
        contact_id = int(job.payload["contact_id"])
        token_id = str(job.payload["token_id"])

        def record(tx: Transaction) -> str:
            tx.lock(f"contact:{contact_id}")
            why = self._why_not(tx, job, now)
            if why is not None:
                return f"no reminder: {why}"
            contact = tx.contact(contact_id)
            assert contact is not None
            budget = budget_key(self.settings.server.secret_key, contact.email)
            if not allow_confirmation_email(tx, self.settings.limits, budget, now):
                tx.add_event(contact_id, ConsentEvent("reminder", now, detail="email=withheld_by_budget"))
                return "no reminder: the address's email budget is spent"
            tx.add_event(contact_id, ConsentEvent("reminder", now, detail="email=queued"))
            sealed = job.payload.get("code")
            tx.enqueue(
                jobs.reminder_email(contact_id, token_id, message_id, str(sealed) if sealed else None), now
            )
            return "reminder queued"

        return await self.store.write(record)
