"""``optin export``: contacts and their proof of consent as CSV."""

from __future__ import annotations

import csv
from typing import TextIO

from service.form_fields import TRACKING, as_text
from service.ledger import iso, latest
from service.store import Store

COLUMNS = [
    "email",
    "form",
    "status",
    "first_name",
    "last_name",
    "language",
    "first_signup_at",
    "last_signup_at",
    "confirmed_at",
    "unsubscribed_at",
    "signup_ip",
    "signup_user_agent",
    "signup_page_url",
    "consent_text",
    "confirmation_ip",
    "confirmation_user_agent",
]


def _iso(stamp: float | None) -> str:
    return iso(stamp) or ""


def _cell(value: str | None) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; visitors typed some of these."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def write_csv(store: Store, out: TextIO, form_id: str | None = None, status: str | None = None) -> int:
    """One row per contact: its consent, the lists it chose, campaign tracking, then one column
    per custom field any exported contact has (in name order)."""
    writer = csv.writer(out)
    contacts = [c for c in await store.contacts(form_id) if not status or c.status == status]
    custom = sorted({name for c in contacts for name in c.fields} - set(TRACKING))
    writer.writerow([*COLUMNS, "lists", *TRACKING, *custom])
    count = 0
    for contact in contacts:
        events = await store.events(contact.id)
        signup, confirmation = latest(events, "signup"), latest(events, "confirmation")
        # A repeat signup must not hide the first one: both times are kept.
        signups = [e.at for e in events if e.event in ("signup", "signup_repeat")]
        writer.writerow(
            [
                _cell(contact.email),
                contact.form_id,
                contact.status,
                _cell(contact.first_name),
                _cell(contact.last_name),
                contact.language,
                _iso(min(signups, default=contact.created_at)),
                _iso(max(signups, default=contact.created_at)),
                _iso(contact.confirmed_at),
                _iso(contact.unsubscribed_at),
                _cell(signup.ip if signup else None),
                _cell(signup.user_agent if signup else None),
                _cell(signup.page_url if signup else None),
                _cell(signup.consent_text if signup else None),
                _cell(confirmation.ip if confirmation else None),
                _cell(confirmation.user_agent if confirmation else None),
                " ".join(contact.lists),
                *(
                    _cell(as_text(contact.fields[name]) if name in contact.fields else None)
                    for name in (*TRACKING, *custom)
                ),
            ]
        )
        count += 1
    return count
