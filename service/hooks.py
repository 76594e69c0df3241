"""Submissions forwarded by contact-form plugins and no-code tools. Pure: no I/O here.

A sender signs ``"{timestamp}.{raw body}"`` with the form's hook secret (HMAC-SHA256, hex) and
sends ``Optin-Signature: t=<unix seconds>,v1=<hex>``, the scheme Stripe uses. Senders that
cannot compute an HMAC post to a secret URL instead. The body is either flat (the form's fields
at the top level, as Zapier, Make, n8n, Gravity Forms and WPForms send them) or our plugin's
envelope ``{"submission_id": …, "fields": {…}, "meta": {"ip", "user_agent", "page_url"}}``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.errors import InputError
from service.settings import FormSettings, HookSettings
from service.signup import MAX_CONSENT_TEXT, SignupRequest

SIGNATURE_HEADER = "Optin-Signature"


@dataclass(frozen=True)
class Submission:
    fields: Mapping[str, Any]
    submission_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    ping: bool = False


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a sender computes (what our WordPress plugin does in PHP)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def check_signature(hook: HookSettings, header: str | None, body: bytes, now: float) -> str:
    """Return the signature's digest (the replay key) or raise a 401 saying what is wrong.

    The header is parsed strictly (ASCII digits, 64 hex digits): a stranger's odd bytes get a
    401, not an exception. Several ``v1=`` values may be sent (a sender rotating its secret).
    """
    if not header:
        raise InputError(
            f"the {SIGNATURE_HEADER} header is missing: sign the body with the hook secret", status=401
        )
    pairs = [item.strip().partition("=") for item in header.split(",")]
    timestamps = [value for key, _, value in pairs if key == "t"]
    given = [value.lower() for key, _, value in pairs if key == "v1" and _HEX_DIGEST.fullmatch(value)]
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not given:
        raise InputError(
            f"the {SIGNATURE_HEADER} header must look like t=<unix time>,v1=<64 hex digits of HMAC-SHA256>",
            status=401,
        )
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > hook.tolerance_seconds:
        raise InputError(
            f"the signature's timestamp is more than {hook.tolerance_seconds} s away from our clock:"
            " a stale or replayed request, or the sender's clock is wrong",
            status=401,
        )
    expected = sign(hook.secret, timestamp, body).split(",v1=")[1]
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in given):
        raise InputError("the signature does not match: check the hook secret on both sides", status=401)
    return expected


def check_url_token(hook: HookSettings, token: str) -> None:
    if not hook.url_token or not hmac.compare_digest(hook.url_token.encode(), token.encode()):
        raise InputError("this hook URL is not valid", status=401)


def parse_submission(data: Mapping[str, Any], hook: HookSettings) -> Submission:
    if data.get("type") == "ping":
        return Submission(fields={}, ping=True)
    envelope = data.get("fields")
    if isinstance(envelope, dict):
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        submission_id = data.get("submission_id")
        return Submission(envelope, str(submission_id) if submission_id else None, meta or {})
    flat_id = data.get(hook.submission_id_field)
    return Submission(dict(data), str(flat_id) if flat_id else None)


# Texts that mean "not ticked" (any case, spaces around ignored); every other non-empty text is a
# tick, since plugins send the checkbox's own label ("I agree") as its value.
NO_WORDS = frozenset({"", "0", "false", "no", "off", "n", "none", "null", "unchecked"})


def consent_ticked(value: object) -> bool:
    """Whether a forwarded consent field says yes: ``true``, a non-zero number, a text that is not
    a "no" word, or a list (Contact Form 7 checkboxes) holding such a value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() not in NO_WORDS
    if isinstance(value, list):
        return any(consent_ticked(item) for item in value if not isinstance(item, list | dict))
    return False


def _text(value: Any) -> str | None:
    if isinstance(value, list):  # Contact Form 7 sends checkboxes and selects as lists
        value = value[0] if value else None
    if value is None or isinstance(value, dict):
        return None
    return str(value)


def _meta(meta: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = meta.get(key)
    return str(value)[:limit] if isinstance(value, str) and value else None


def _meta_ip(meta: Mapping[str, Any]) -> str | None:
    """The visitor's address as the plugin saw it, when it is one (it is kept as evidence and
    counted against the per-address limits: no other text may stand in for it)."""
    value = _meta(meta, "ip", 64)
    try:
        return str(ipaddress.ip_address(value.strip())) if value else None
    except ValueError:
        return None


def consent_text_of(submission: Submission, hook: HookSettings) -> str | None:
    """The consent text the visitor saw, as the sender says it: ``meta.consent_text`` (our
    WordPress plugin sends its checkbox's label) or the field named by ``consent_text_field``."""
    raw = submission.meta.get("consent_text")
    if not isinstance(raw, str) and hook.consent_text_field:
        raw = _text(submission.fields.get(hook.consent_text_field))
    if not isinstance(raw, str):
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in raw).split())
    return text[:MAX_CONSENT_TEXT] or None


def signup_from(
    form: FormSettings, hook: HookSettings, submission: Submission, sender_ip: str | None
) -> SignupRequest:
    fields = submission.fields
    email = _text(fields.get(hook.email_field))
    if not email or not email.strip():
        raise InputError(f"the email field {hook.email_field!r} is missing or empty", field=hook.email_field)
    if not consent_ticked(fields.get(hook.consent_field)):
        raise InputError(
            f"the consent field {hook.consent_field!r} is not ticked: nobody was subscribed",
            field=hook.consent_field,
        )

    def optional(name: str) -> str | None:
        return _text(fields.get(name)) if name else None

    once = (
        f"hook:{form.id}:{hashlib.sha256(submission.submission_id.encode()).hexdigest()}"
        if submission.submission_id
        else None
    )
    visitor_ip = _meta_ip(submission.meta)  # only the visitor's own address counts against limits
    return SignupRequest(
        form_id=form.id,
        email=email,
        first_name=optional(hook.first_name_field),
        last_name=optional(hook.last_name_field),
        language=optional(hook.language_field),
        consent=True,
        page_url=_meta(submission.meta, "page_url", 2000),
        ip=visitor_ip or sender_ip,
        user_agent=_meta(submission.meta, "user_agent", 500),
        source="hook",
        limit_by_ip=visitor_ip is not None,
        fields=fields,
        once_key=once,
        consent_text=consent_text_of(submission, hook),
    )
