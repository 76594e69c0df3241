"""What each outbox job does: render and send an email, or tell a list connector.

A job re-reads its contact when it runs, so a contact who unsubscribed (or was erased) while
the job waited is not emailed or re-added.
"""

from __future__ import annotations

from datetime import UTC, datetime

from service import jobs
from service.connectors.base import Connector, Consent, Contact
from service.errors import DeliveryError
from service.mail import Mailer
from service.mail.compose import confirmation_email, welcome_email
from service.render import Renderer
from service.settings import Settings
from service.store import ContactRow, Job, Store
from service.tokens import Tokens


def _when(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


class Delivery:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        mailer: Mailer,
        connectors: dict[str, Connector],
        renderer: Renderer,
        tokens: Tokens,
    ) -> None:
        self.settings = settings
        self.store = store
        self.mailer = mailer
        self.connectors = connectors
        self.renderer = renderer
        self.tokens = tokens

    def lane(self, job: Job) -> tuple[str, int]:
        """Which concurrency limit a job runs under: the relay's, or its connector's."""
        if job.kind in jobs.EMAIL_KINDS:
            return "smtp", 4
        name = str(job.payload.get("connector"))
        connector = self.connectors.get(name)
        return f"connector:{name}", connector.max_concurrency if connector else 1

    async def run(self, job: Job) -> str:
        contact = await self.store.contact(int(job.payload["contact_id"]))
        if contact is None:
            return "the contact no longer exists; nothing to do"
        if job.kind == jobs.CONFIRMATION_EMAIL:
            return await self._confirmation(job, contact)
        if job.kind == jobs.WELCOME_EMAIL:
            return await self._welcome(job, contact)
        if job.kind in (jobs.CONNECTOR_UPSERT, jobs.CONNECTOR_UNSUBSCRIBE):
            return await self._connector(job, contact)
        raise DeliveryError(f"unknown job kind {job.kind!r}", permanent=True)

    def _form_title(self, contact: ContactRow) -> str:
        form = self.settings.forms.get(contact.form_id)
        return form.title if form else contact.form_id

    async def _confirmation(self, job: Job, contact: ContactRow) -> str:
        if contact.status != "pending":
            return f"not sent: the contact is already {contact.status}"
        url = f"{self.settings.server.public_url}/confirm/{self.tokens.confirmation(str(job.payload['token_id']))}"
        message = confirmation_email(
            self.renderer,
            sender=self.settings.smtp.sender,
            to=contact.email,
            language=contact.language,
            list_title=self._form_title(contact),
            first_name=contact.first_name,
            confirm_url=url,
            expires_days=round(self.settings.server.token_max_age_days),
            message_id=str(job.payload["message_id"]),
        )
        return await self.mailer.send(message)

    async def _welcome(self, job: Job, contact: ContactRow) -> str:
        if contact.status != "confirmed":
            return f"not sent: the contact is {contact.status}"
        url = f"{self.settings.server.public_url}/unsubscribe/{self.tokens.unsubscribe(contact.id)}"
        message = welcome_email(
            self.renderer,
            sender=self.settings.smtp.sender,
            to=contact.email,
            language=contact.language,
            list_title=self._form_title(contact),
            first_name=contact.first_name,
            unsubscribe_url=url,
            message_id=str(job.payload["message_id"]),
        )
        return await self.mailer.send(message)

    async def contact_for_list(self, contact: ContactRow) -> Contact:
        events = await self.store.events(contact.id)
        signup = next((e for e in reversed(events) if e.event == "signup"), None)
        confirmation = next((e for e in reversed(events) if e.event == "confirmation"), None)
        consent = None
        if signup is not None:
            consent = Consent(
                signed_up_at=datetime.fromtimestamp(signup.at, UTC),
                ip=signup.ip,
                user_agent=signup.user_agent,
                page_url=signup.page_url,
                consent_text=signup.consent_text,
                confirmed_at=_when(confirmation.at if confirmation else None),
                confirmed_ip=confirmation.ip if confirmation else None,
            )
        return Contact(
            email=contact.email,
            form_id=contact.form_id,
            language=contact.language,
            first_name=contact.first_name,
            last_name=contact.last_name,
            consent=consent,
        )

    async def _connector(self, job: Job, contact: ContactRow) -> str:
        name = str(job.payload["connector"])
        connector = self.connectors.get(name)
        if connector is None:
            raise DeliveryError(f"no connector named {name!r} is configured any more", permanent=True)
        if job.kind == jobs.CONNECTOR_UPSERT:
            if contact.status != "confirmed":
                return f"not sent: the contact is {contact.status}"
            result = await connector.upsert(
                await self.contact_for_list(contact), idempotency_key=job.idempotency_key
            )
        else:
            result = await connector.unsubscribe(
                await self.contact_for_list(contact), idempotency_key=job.idempotency_key
            )
        return result.detail + (f" (id {result.remote_id})" if result.remote_id else "")
