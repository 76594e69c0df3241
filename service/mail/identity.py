"""Who a subscription email says it is from, and for which list. Pure.

Good practice (and Mailjet's guidance) asks every subscription email to say who sent it and why
the reader gets it, and to carry a ``List-Id`` (RFC 2919) so mailbox providers can tell one
list's mail from another's. Both are derived here, once, for sending and for the preview.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

from service.settings_types import FormSettings


@dataclass(frozen=True)
class MailIdentity:
    sender_name: str  # the From display name, else the sender's domain
    site: str  # where the form lives: its first allowed origin's host, else the sender's domain
    list_id: str  # the List-Id header's value


def _label(text: str) -> str:
    """``text`` as a dot-atom label: lower case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "list"


def identity_for(form: FormSettings | None, form_id: str, list_title: str, sender: str) -> MailIdentity:
    name, address = parseaddr(sender)
    domain = address.rpartition("@")[2].lower() or "localhost"
    site = domain
    if form is not None and form.allowed_origins:
        site = urlsplit(form.allowed_origins[0]).hostname or domain
    # RFC 2919's phrase: an ASCII title quoted (commas, colons stay one phrase); another is
    # left bare for the email library to write as RFC 2047 encoded words (never inside quotes).
    title = " ".join(re.sub(r'["\\<>]', "", list_title).split()) or form_id
    phrase = f'"{title}"' if title.isascii() else title
    return MailIdentity(
        sender_name=name or domain, site=site, list_id=f"{phrase} <{_label(form_id)}.{domain}>"
    )
