"""A visitor's signup: check it, record it with its consent, queue the confirmation email.

Everything lands in one transaction, so a signup answered "accepted" is on disk together with
the job that will email it. The outcome is deliberately not returned to the caller: the answer
is the same whether the address is new, pending or already confirmed.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.utils import make_msgid
from typing import Any

from service import jobs, metrics
from service.codes import CodeKeys, Handles, new_code
from service.controls import marked
from service.errors import InputError
from service.form_fields import Extras, read_extras
from service.guards import SignupGuard
from service.ledger import recorded_ip
from service.limits import allow_confirmation_email, budget_key, check_request
from service.mail.compose import new_message_id
from service.names import clean_name
from service.settings import LANGUAGES, FormSettings, Settings
from service.store import ConsentEvent, Store, Transaction
from service.tokens import Tokens
from service.verification import Verdict, Verifier

MAX_URL_LENGTH = 2000
MAX_USER_AGENT_LENGTH = 500
MAX_CONSENT_TEXT = 2000


def evidence(text: str | None, limit: int) -> str | None:
    """Text a visitor or a plugin sent, as the ledger keeps it: at most ``limit`` characters,
    each control character shown as U+FFFD (a NUL in a page URL made the signup fail on
    PostgreSQL)."""
    return marked(text[:limit]) or None if text else None


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
    # The widget (or a script) answers with JSON: its email carries a code, its answer a handle.
    offer_code: bool = False
    consent_text: str | None = None  # the text the visitor saw, when a hook's sender says it


@dataclass(frozen=True)
class Accepted:
    """What a signup answers. ``fresh`` is False when a sender's submission id was seen before
    (nothing new was done); ``handle`` names the signup for the code flow (service.codes)."""

    fresh: bool
    handle: str | None = None


def ledger_tag(form: FormSettings, language: str, consent_text: str | None) -> str:
    """What the visitor was shown, for the ledger; a hook's own consent text gets its own SHA-256."""
    if consent_text is None or consent_text == form.consent_in(language):
        return form.ledger_tag_for(language)
    shown = "\n".join((form.title_in(language), form.shown_language(language), consent_text))
    version = hashlib.sha256(shown.encode()).hexdigest()[:12]
    return f"version={version} consent_sha256={hashlib.sha256(consent_text.encode()).hexdigest()}"


def list_consents(
    form: FormSettings, extras: Extras, language: str, event: ConsentEvent
) -> list[ConsentEvent]:
    """One ledger line per list chosen: the label the visitor ticked, and its SHA-256."""
    found = []
    for name in extras.lists:
        spec = form.list_named(name)
        if spec is None:
            continue
        label = spec.labels.get(language) or spec.label
        digest = hashlib.sha256(label.encode()).hexdigest()
        detail = f"list={name} connector={spec.connector} label_sha256={digest}"
        found.append(replace(event, event="list_consent", consent_text=label, detail=detail))
    return found


def message_ids(sender: str) -> Callable[[], str]:
    """``new_message_id(sender)`` with the sender's address parsed once, not for every signup
    (the email library's address parser was a fifth of a signup's own time)."""
    domain = new_message_id(sender).rpartition("@")[2].removesuffix(">")
    return functools.partial(make_msgid, domain=domain)


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.verifier = verifier
        self.wake = wake
        self.guards = list(guards)
        self.clock = clock
        self.keys = CodeKeys(settings.server.secret_key)
        self.new_message_id = message_ids(settings.smtp.sender)
        self.handles = Handles(settings.server.secret_key, Tokens(settings.server.secret_key))

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
    async def subscribe(self, request: SignupRequest) -> Accepted:
        """Record the signup, or raise an InputError saying what to fix (field by field)."""
        form = self.form(request.form_id)
        for guard in self.guards:
            await guard.check(form, request)
        verdict = await self.check(form, request.email)
        if form.consent_text and not request.consent:
            raise InputError("please tick the box to agree to receive emails", field="consent")
        extras = read_extras(form.fields, form.lists, request.fields, request.page_url)
        if extras.errors:
            name, problem = next(iter(extras.errors.items()))
            raise InputError(f"{name}: {problem}", field=name, errors=extras.errors)
        email = str(verdict.normalized)
        first, last = clean_name(request.first_name), clean_name(request.last_name)
        language = pick_language(request.language, form)
        now = self.clock()
        their_consent = evidence(request.consent_text, MAX_CONSENT_TEXT)  # a hook's own, as kept
        consent_text = their_consent or form.consent_in(language) or None
        lists = f" lists={','.join(extras.lists)}" if extras.lists else ""
        event = ConsentEvent(
            event="signup",
            at=now,
            ip=recorded_ip(request.ip, self.settings.server.truncate_ips),
            user_agent=evidence(request.user_agent, MAX_USER_AGENT_LENGTH),
            page_url=evidence(request.page_url, MAX_URL_LENGTH),
            consent_text=consent_text,  # the text shown, in its language
            detail=f"form={form.id} via={request.source} {ledger_tag(form, language, their_consent)}{lists}",
        )
        limits = self.settings.limits
        recipient = budget_key(self.settings.server.secret_key, email)
        message_id = self.new_message_id()
        # Random whatever happens below, so the handle never says whether an email went out.
        token_id = secrets.token_urlsafe(18)
        code = new_code() if request.offer_code else None
        sealed = self.keys.seal(token_id, code) if code else None
        remind_at = now + form.reminder_after_hours * 3600.0

        def record(tx: Transaction) -> bool:
            if request.once_key and not tx.claim_once(request.once_key, now + ONCE_TTL, now):
                return False
            check_request(tx, limits, form.id, request.ip if request.limit_by_ip else None, now)
            created = tx.insert_contact_if_new(
                form.id, email, first, last, language, now, extras.values, extras.lists
            )
            contact = None if created is not None else tx.contact_by_email(form.id, email)
            if contact is not None and contact.status == "confirmed":
                # Already on the list: record the attempt and answer the same. Lists they are not
                # on yet are theirs once the inbox confirms them; otherwise nothing is sent.
                adds = tuple(name for name in extras.lists if name not in contact.lists)
                allowed = bool(adds) and allow_confirmation_email(tx, limits, recipient, now)
                withheld = " email=withheld_by_budget" if adds and not allowed else ""
                tx.add_event(
                    contact.id, replace(event, event="signup_repeat", detail=f"{event.detail}{withheld}")
                )
                if allowed:
                    for line in list_consents(form, replace(extras, lists=adds), language, event):
                        tx.add_event(contact.id, line)
                    digest = self.keys.digest(token_id, code) if code else None
                    tx.add_confirmation(token_id, contact.id, now, digest, adds_lists=adds)
                    tx.enqueue(jobs.confirmation_email(contact.id, token_id, message_id, sealed, adds), now)
                return True
            if created is not None:
                contact_id = created
            elif contact is None:  # erased by another instance since the insert met it: insert it
                contact_id = tx.insert_contact(
                    form.id, email, first, last, language, now, extras.values, extras.lists
                )
            else:
                contact_id = contact.id
                tx.refresh_pending(contact_id, first, last, language, now, extras.values, extras.lists)
            if not allow_confirmation_email(tx, limits, recipient, now):
                # Past the address's email budget: recorded, nothing sent, answered the same.
                tx.add_event(contact_id, replace(event, detail=f"{event.detail} email=withheld_by_budget"))
                for line in list_consents(form, extras, language, event):
                    tx.add_event(contact_id, line)
                return True
            digest = self.keys.digest(token_id, code) if code else None
            job = jobs.confirmation_email(contact_id, token_id, message_id, sealed)
            tx.add_signup(contact_id, event, token_id, digest, job)
            for line in list_consents(form, extras, language, event):
                tx.add_event(contact_id, line)
            if form.reminder_after_hours > 0:
                tx.enqueue(jobs.reminder(contact_id, token_id, sealed), now, run_at=remind_at)
            return True

        done = await self.store.write(record)
        self.wake()
        handle = self.handles.issue(token_id, form.id, now) if request.offer_code and done else None
        return Accepted(done, handle)
