"""A visitor's signup: check it, record it with its consent, queue the confirmation email.

Everything lands in one transaction, so a signup answered "accepted" is on disk together with
the job that will email it. The outcome is deliberately not returned to the caller: the answer
is the same whether the address is new, pending or already confirmed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from service import jobs, metrics
from service.errors import InputError
from service.guards import SignupGuard
from service.limits import allow_confirmation_email, budget_key, check_request, network_of
from service.mail.compose import new_message_id
from service.names import clean_name
from service.settings import LANGUAGES, FormSettings, Settings
from service.store import ConsentEvent, Store, Transaction
from service.verification import Verdict, Verifier

MAX_URL_LENGTH = 2000
MAX_USER_AGENT_LENGTH = 500
ONCE_TTL = 90 * 86_400.0  # how long a sender's submission id is remembered


@dataclass(frozen=True)
class SignupRequest:
    form_id: str
    email: str
    first_name: object = None
    last_name: object = None
    language: object = None
    consent: bool = False
    page_url: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    source: str = "form"  # "form" (widget or HTML form) or "hook" (a contact-form plugin)
    fields: Mapping[str, Any] = field(default_factory=dict)  # everything submitted, for guards
    once_key: str | None = None  # a sender's submission id: the same one twice signs up once
    # Per-IP limits count visitors; a hook's own server (Zapier, a WordPress site) is not one.
    limit_by_ip: bool = True


def recorded_ip(ip: str | None, truncate: bool) -> str | None:
    """The IP kept as consent evidence; truncated to its network when the owner asks for it."""
    if not ip or not truncate:
        return ip
    return network_of(ip) or ip


def pick_language(requested: object, form: FormSettings) -> str:
    if isinstance(requested, str):
        code = requested.strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return form.language


class SignupService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        verifier: Verifier,
        wake: Callable[[], None],
        guards: Sequence[SignupGuard] = (),
    ) -> None:
        self.settings = settings
        self.store = store
        self.verifier = verifier
        self.wake = wake
        self.guards = list(guards)

    def form(self, form_id: str) -> FormSettings:
        form = self.settings.forms.get(form_id)
        if form is None:
            raise InputError(f"there is no form called {form_id!r}", field="form", status=404)
        return form

    async def check(self, form: FormSettings, email: str) -> Verdict:
        if not email.strip():
            raise InputError("please enter an email address", field="email")
        if len(email) > 320:
            raise InputError("that email address is too long", field="email")
        verdict = await self.verifier.verify(email, form.policy)
        metrics.verdict(verdict.decision, "signup")
        if verdict.decision == "reject" or verdict.normalized is None:
            message = verdict.message or "this email address cannot receive mail"
            if verdict.suggestion:  # a likely typo: the question alone says it
                message = f"Did you mean {verdict.suggestion}?"
            raise InputError(message, field="email")
        return verdict

    @metrics.counts_signups
    async def subscribe(self, request: SignupRequest) -> bool:
        """Record the signup; False when ``once_key`` was seen before (nothing new was done)."""
        form = self.form(request.form_id)
        for guard in self.guards:
            await guard.check(form, request)
        verdict = await self.check(form, request.email)
        if form.consent_text and not request.consent:
            raise InputError("please tick the box to agree to receive emails", field="consent")
        email = str(verdict.normalized)
        first, last = clean_name(request.first_name), clean_name(request.last_name)
        language = pick_language(request.language, form)
        now = time.time()
        event = ConsentEvent(
            event="signup",
            at=now,
            ip=recorded_ip(request.ip, self.settings.server.truncate_ips),
            user_agent=(request.user_agent or "")[:MAX_USER_AGENT_LENGTH] or None,
            page_url=(request.page_url or "")[:MAX_URL_LENGTH] or None,
            consent_text=form.consent_in(language) or None,  # the text shown, in its language
            detail=f"form={form.id} via={request.source} {form.ledger_tag_for(language)}",
        )
        limits = self.settings.limits
        recipient = budget_key(self.settings.server.secret_key, email)
        message_id = new_message_id(self.settings.smtp.sender)
        token_id = secrets.token_urlsafe(18)

        def record(tx: Transaction) -> bool:
            if request.once_key and not tx.claim_once(request.once_key, now + ONCE_TTL, now):
                return False
            check_request(tx, limits, form.id, request.ip if request.limit_by_ip else None, now)
            contact = tx.contact_by_email(form.id, email)
            if contact is not None and contact.status == "confirmed":
                # Already on the list: record the attempt, send nothing, answer the same.
                tx.add_event(contact.id, replace(event, event="signup_repeat"))
                return True
            if contact is None:
                contact_id = tx.insert_contact(form.id, email, first, last, language, now)
            else:
                contact_id = contact.id
                tx.refresh_pending(contact_id, first, last, language, now)
            if not allow_confirmation_email(tx, limits, recipient, now):
                # Past the address's email budget: recorded, nothing sent, answered the same.
                tx.add_event(contact_id, replace(event, detail=f"{event.detail} email=withheld_by_budget"))
                return True
            tx.add_event(contact_id, event)
            tx.add_confirmation(token_id, contact_id, now)
            tx.enqueue(jobs.confirmation_email(contact_id, token_id, message_id), now)
            return True

        done = await self.store.write(record)
        self.wake()
        return done
