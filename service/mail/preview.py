"""An email rendered exactly as it would be sent, for ``optin preview`` and the admin. No I/O.

The preview goes through the very functions the outbox uses (service.mail.compose,
service.alerts, the sender identity, DKIM signing), with a real contact's values or realistic
samples per language. Its links have the shape of real ones but change nothing: the confirmation
token names no confirmation email, the unsubscribe token names no contact.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

import jinja2

from service.alerts import alert_email
from service.mail import Message
from service.mail.compose import confirmation_email, new_message_id, welcome_email
from service.mail.dkim import DkimSigner, domain_of
from service.mail.identity import identity_for
from service.mail.lint import Finding, LintContext, lint_message
from service.mail.lint_words import word_lists
from service.mail.mime import parse
from service.mail.smtp import wire_bytes
from service.render import Renderer
from service.settings import LANGUAGES, Settings
from service.store import ContactRow
from service.tokens import Tokens

Kind = Literal["confirm", "welcome", "alert"]
KINDS: tuple[Kind, ...] = ("confirm", "welcome", "alert")
PREVIEW_TOKEN_ID = "preview-0000"  # noqa: S105 - names no confirmation email: the link shows "doesn't work"
NO_CONTACT = 0  # contact ids start at 1: an unsubscribe link for 0 changes nothing

COMMON = {
    "t": "the texts of the email's language (templates/i18n/LANG.json), e.g. t.hello",
    "lang": "the language code: en, fr, es or de",
}
VARIABLES: Mapping[Kind, Mapping[str, str]] = {
    "confirm": {
        "list_title": "the form's title in the contact's language",
        "first_name": "the contact's first name, or empty",
        "confirm_url": "the confirmation link (signed, expiring)",
        "expires_days": "how many days the link works (server.token_max_age_days)",
        "sender_name": "the display name of smtp.sender (else its domain)",
        "site": "the form's site: its first allowed origin's host, else the sender's domain",
        **COMMON,
    },
    "welcome": {
        "list_title": "the form's title in the contact's language",
        "first_name": "the contact's first name, or empty",
        "unsubscribe_url": "the one-click unsubscribe link (also in List-Unsubscribe)",
        "sender_name": "the display name of smtp.sender (else its domain)",
        "site": "the form's site: its first allowed origin's host, else the sender's domain",
        **COMMON,
    },
    "alert": {
        "connector": "the connector's name",
        "reason": "what happened, in words",
        "detail": "the list's own answer",
        "when": "when it happened (UTC)",
        "status": "the connector's health: state, consecutive_failures, dead_letters, last_success_at",
        "public_url": "server.public_url",
        **COMMON,
    },
}
SAMPLE_PEOPLE = {
    "en": ("Alex", "alex.sample@example.com"),
    "fr": ("Camille", "camille.exemple@example.fr"),
    "es": ("Lucía", "lucia.ejemplo@example.es"),
    "de": ("Jonas", "jonas.beispiel@example.de"),
}


@dataclass(frozen=True)
class Preview:
    kind: Kind
    form_id: str
    language: str
    recipient: str
    message: EmailMessage  # as sent: the wire bytes read back by the email library
    wire: bytes  # as it goes to the relay (DKIM-signed when a key is configured)
    findings: tuple[Finding, ...]

    @property
    def sent(self) -> EmailMessage:
        return self.message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The top-level headers as sent (decoded), the DKIM signature among them."""
        return [(name, str(value)) for name, value in self.sent.items()]

    def body(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        # Read back from the wire, lines end in CRLF; shown to people, they end in newlines.
        return "" if part is None else str(part.get_content()).replace("\r\n", "\n")

    @property
    def variables(self) -> Mapping[str, str]:
        return VARIABLES[self.kind]


def _sample_status() -> dict[str, object]:
    return {"state": "down", "consecutive_failures": 5, "dead_letters": 2, "last_success_at": None}


SAMPLE_CODE = "123456"


def _compose(
    settings: Settings,
    renderer: Renderer,
    tokens: Tokens,
    kind: Kind,
    form_id: str,
    language: str,
    contact: ContactRow | None,
) -> tuple[Message, str]:
    smtp = settings.smtp
    if kind == "alert":
        owner = settings.server.owner_email or f"owner@{domain_of(smtp.sender) or 'example.com'}"
        message: Message = alert_email(
            renderer,
            sender=smtp.alerts_from,
            to=owner,
            connector="main-list",
            reason="the list refused a contact, which is set aside as a dead letter",
            detail='{"title": "Invalid Resource", "detail": "The list does not exist"}',
            at=time.time(),
            status=_sample_status(),
            public_url=settings.server.public_url,
            message_id=new_message_id(smtp.alerts_from),
        )
        return message, owner
    form = settings.forms[form_id]
    name, address = SAMPLE_PEOPLE.get(language, SAMPLE_PEOPLE["en"])
    if contact is not None:
        name, address = contact.first_name or "", contact.email
    title = form.title_in(language)
    identity = identity_for(form, form_id, title, smtp.sender)
    if kind == "confirm":
        url = f"{settings.server.public_url}/confirm/{tokens.confirmation(PREVIEW_TOKEN_ID)}"
        message = confirmation_email(
            renderer,
            sender=smtp.sender,
            to=address,
            language=language,
            list_title=title,
            first_name=name or None,
            confirm_url=url,
            expires_days=round(settings.server.token_max_age_days),
            message_id=new_message_id(smtp.sender),
            # A widget signup's email carries a code beside its link: a sample one, which confirms nothing.
            code=SAMPLE_CODE,
            identity=identity,
        )
    else:
        token = tokens.unsubscribe(NO_CONTACT, form_id, address)
        message = welcome_email(
            renderer,
            sender=smtp.sender,
            to=address,
            language=language,
            list_title=title,
            first_name=name or None,
            unsubscribe_url=f"{settings.server.public_url}/unsubscribe/{token}",
            message_id=new_message_id(smtp.sender),
            identity=identity,
        )
    return message, address


def render_preview(
    settings: Settings,
    renderer: Renderer,
    tokens: Tokens,
    kind: Kind,
    form_id: str,
    language: str,
    contact: ContactRow | None = None,
) -> Preview:
    """``kind`` for ``form_id`` in ``language``, with ``contact``'s values or samples.

    Raises KeyError for an unknown form, ValueError for an unknown kind or language.
    """
    if kind not in KINDS:
        raise ValueError(f"there is no {kind!r} email; the emails are {', '.join(KINDS)}")
    if language not in LANGUAGES:
        raise ValueError(f"optin has no texts in {language!r}; the languages are {', '.join(LANGUAGES)}")
    if kind != "alert" and form_id not in settings.forms:
        raise KeyError(form_id)
    message, recipient = _compose(settings, renderer, tokens, kind, form_id, language, contact)
    dkim = settings.smtp.dkim
    signer = DkimSigner(dkim.domain, dkim.selector, dkim.private_key) if dkim else None
    wire = wire_bytes(message, signer, utf8=not recipient.isascii(), eight_bit=True)
    sent = parse(wire)  # the lint reads what is actually sent
    context = LintContext(
        language=language if kind != "alert" else "en",
        words=word_lists(settings.lint.risky_words_file),
        subject_max_length=settings.lint.subject_max_length,
        confirmation=kind == "confirm",
        subscription=kind != "alert",
    )
    return Preview(kind, form_id, language, recipient, sent, wire, tuple(lint_message(sent, context)))


def _every_email(settings: Settings) -> list[tuple[Kind, str, str]]:
    """(kind, form, language) of every email optin may send: each form's confirmation and
    welcome in every language, and the owner's alert (written in English only)."""
    emails: list[tuple[Kind, str, str]] = [
        (kind, form_id, language)
        for form_id in settings.forms
        for kind in ("confirm", "welcome")
        for language in LANGUAGES
    ]
    return [*emails, ("alert", "", "en")]


def _where(kind: Kind, form_id: str, language: str) -> str:
    return "alert (en)" if kind == "alert" else f"{kind}, form {form_id!r}, {language}"


def where(preview: Preview) -> str:
    """Which email a preview is, in words: ``confirm, form 'newsletter', fr``."""
    return _where(preview.kind, preview.form_id, preview.language)


def every_preview(settings: Settings, renderer: Renderer, tokens: Tokens) -> list[Preview | str]:
    """A preview of every email, or, for one whose templates do not render, why not."""
    results: list[Preview | str] = []
    for kind, form_id, language in _every_email(settings):
        try:
            results.append(render_preview(settings, renderer, tokens, kind, form_id, language))
        except jinja2.TemplateError as exc:
            results.append(f"{_where(kind, form_id, language)}: the templates do not render: {exc}")
    return results


def template_warnings(settings: Settings, renderer: Renderer, tokens: Tokens) -> list[str]:
    """One line per lint finding over every email, for the log and check-config."""
    lines = []
    for preview in every_preview(settings, renderer, tokens):
        if isinstance(preview, str):
            lines.append(preview)
            continue
        lines += [f"{where(preview)}: {finding}" for finding in preview.findings]
    return lines
