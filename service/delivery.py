"""What each outbox job does: render and send an email, or tell a list connector.

A job re-reads its contact when it runs, so a contact who unsubscribed (or was erased) while
the job waited is not emailed or re-added.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import parseaddr

from service import jobs, metrics
from service.alerts import alert_email, import_alert_email
from service.codes import CodeKeys
from service.connectors.base import Connector
from service.connectors.status import HealthBook, describe
from service.connectors.sync import ListSync
from service.digest import send_digest
from service.errors import DeliveryError, MailError
from service.mail import Mailer
from service.mail.compose import confirmation_email, welcome_email
from service.mail.identity import MailIdentity, identity_for
from service.outbox import BatchGroup, Deferred, Done, Outcome
from service.pacing import Pacing, is_deferral, pacing_key
from service.reminders import Reminders
from service.render import Renderer
from service.settings import Settings
from service.store import ConsentEvent, ContactRow, Job, Store
from service.store.records import ConnectorHealth
from service.tokens import Tokens


class Delivery:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        mailer: Mailer,
        connectors: dict[str, Connector],
        renderer: Renderer,
        tokens: Tokens,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.mailer = mailer
        self.connectors = connectors
        self.renderer = renderer
        self.tokens = tokens
        self.health = HealthBook(store, settings.server.owner_email, settings.smtp.alerts_from)
        self.lists = ListSync(store, connectors, settings.outbox, self.health, settings.forms)
        self.pacing = Pacing(store)
        self.reminders = Reminders(settings, store, clock)
        self.keys = CodeKeys(settings.server.secret_key)

    def lane(self, job: Job) -> tuple[str, int]:
        """Which concurrency limit a job runs under: the relay's, or its connector's."""
        if job.kind in jobs.EMAIL_KINDS:
            return "smtp", 4
        name = str(job.payload.get("connector"))
        connector = self.connectors.get(name)
        return f"connector:{name}", connector.max_concurrency if connector else 1

    def batch_group(self, job: Job) -> BatchGroup | None:
        """Which batch a due job may join (list upserts to a connector with a batch endpoint)."""
        return self.lists.batch_group(job)

    async def run_batch(self, batch: Sequence[Job]) -> list[Outcome]:
        return await self.lists.run_batch(batch)

    async def run(self, job: Job) -> str | Done:
        if job.kind == jobs.ALERT_EMAIL:
            return await self._alert(job)
        if job.kind == jobs.REMINDER:
            return await self.reminders.decide(job)
        if job.kind == jobs.DIGEST_EMAIL:
            return metrics.email_sent(job.kind, await send_digest(self, job))
        if job.kind == jobs.IMPORT_ALERT_EMAIL:
            return await self._import_alert(job)
        contact = await self.store.contact(int(job.payload["contact_id"]))
        if contact is None:
            return "the contact no longer exists; nothing to do"
        if job.kind in (jobs.CONFIRMATION_EMAIL, jobs.REMINDER_EMAIL):
            return await self._confirmation(job, contact, reminder=job.kind == jobs.REMINDER_EMAIL)
        if job.kind == jobs.WELCOME_EMAIL:
            return await self._welcome(job, contact)
        if job.kind in (jobs.CONNECTOR_UPSERT, jobs.CONNECTOR_UNSUBSCRIBE):
            return await self.lists.run_one(job, contact)
        raise DeliveryError(f"unknown job kind {job.kind!r}", permanent=True)

    async def _send(self, message: EmailMessage, recipient: str, sender: str | None = None) -> str:
        """Send, at the pace the recipient's domain accepts (see service.pacing)."""
        admission = await self.pacing.admit(recipient)
        if admission.wait_until is not None:
            domain = pacing_key(recipient)
            raise Deferred(admission.wait_until, f"sends to {domain} are slowed after it deferred our mail")
        try:
            reply = await self.mailer.send(message, recipient, sender=sender)
        except MailError as exc:
            if is_deferral(exc):
                until = await self.pacing.deferred(recipient, exc.detail)
                exc.retry_after = max(exc.retry_after or 0.0, until - time.time())
            raise
        if admission.paced:
            await self.pacing.delivered(recipient)
        return reply

    def _form_title(self, contact: ContactRow) -> str:
        form = self.settings.forms.get(contact.form_id)
        return form.title_in(contact.language) if form else contact.form_id

    def _identity(self, contact: ContactRow) -> MailIdentity:
        form = self.settings.forms.get(contact.form_id)
        return identity_for(form, contact.form_id, self._form_title(contact), self.settings.smtp.sender)

    async def _confirmation(self, job: Job, contact: ContactRow, reminder: bool = False) -> str | Done:
        adds = job.payload.get("adds_lists")
        # A first signup's email goes to a pending contact; one adding lists, to a confirmed one.
        if contact.status != ("confirmed" if adds else "pending"):
            return f"not sent: the contact is already {contact.status}"
        title = self._form_title(contact)
        if adds:
            form = self.settings.forms.get(contact.form_id)
            title = (form.labels_of(tuple(adds), contact.language) if form else "") or title
        token_id = str(job.payload["token_id"])
        url = f"{self.settings.server.public_url}/confirm/{self.tokens.confirmation(token_id)}"
        sealed = job.payload.get("code")
        code = self.keys.unseal(token_id, str(sealed)) if sealed else None
        message = confirmation_email(
            self.renderer,
            sender=self.settings.smtp.sender,
            to=contact.email,
            language=contact.language,
            list_title=title,
            first_name=contact.first_name,
            confirm_url=url,
            expires_days=round(self.settings.server.token_max_age_days),
            message_id=str(job.payload["message_id"]),
            code=code,
            reminder=reminder,
            identity=self._identity(contact),
        )
        reply = metrics.email_sent(job.kind, await self._send(message, contact.email))
        # The ledger proves which email asked for consent: its Message-ID, when the relay took it
        # (written with the job's end, in one commit).
        kind = "reminder_email_sent" if reminder else "confirmation_email_sent"
        sent = ConsentEvent(kind, time.time(), detail=f"message_id={message['Message-ID']}")
        return Done(reply, lambda tx: tx.add_event(contact.id, sent))

    async def _welcome(self, job: Job, contact: ContactRow) -> str:
        if contact.status != "confirmed":
            return f"not sent: the contact is {contact.status}"
        token = self.tokens.unsubscribe(contact.id, contact.form_id, contact.email)
        url = f"{self.settings.server.public_url}/unsubscribe/{token}"
        message = welcome_email(
            self.renderer,
            sender=self.settings.smtp.sender,
            to=contact.email,
            language=contact.language,
            list_title=self._form_title(contact),
            first_name=contact.first_name,
            unsubscribe_url=url,
            message_id=str(job.payload["message_id"]),
            identity=self._identity(contact),
        )
        return metrics.email_sent(job.kind, await self._send(message, contact.email))

    async def _alert(self, job: Job) -> str:
        owner = self.settings.server.owner_email
        if not owner:
            return "not sent: no server.owner_email is configured"
        name = str(job.payload["connector"])
        rows = {h.connector: h for h in await self.store.connector_healths()}
        status = describe(rows.get(name) or ConnectorHealth(name), float(job.payload["at"]))
        sender = self.settings.smtp.alerts_from
        message = alert_email(
            self.renderer,
            sender=sender,
            to=owner,
            connector=name,
            reason=str(job.payload["reason"]),
            detail=str(job.payload["detail"]),
            at=float(job.payload["at"]),
            status=status,
            public_url=self.settings.server.public_url,
            message_id=str(job.payload["message_id"]),
        )
        return metrics.email_sent(
            job.kind, await self._send(message, parseaddr(owner)[1] or owner, sender=sender)
        )

    async def _import_alert(self, job: Job) -> str:
        owner = self.settings.server.owner_email
        if not owner:
            return "not sent: no server.owner_email is configured"
        sender = self.settings.smtp.alerts_from
        message = import_alert_email(
            self.renderer,
            sender=sender,
            to=owner,
            name=str(job.payload["import"]),
            reason=str(job.payload["reason"]),
            at=float(job.payload["at"]),
            public_url=self.settings.server.public_url,
            message_id=str(job.payload["message_id"]),
        )
        return metrics.email_sent(
            job.kind, await self._send(message, parseaddr(owner)[1] or owner, sender=sender)
        )
