"""A person's data on request: everything we hold about an address, or erasing it.

Erasure keeps only a keyed hash of the address (``erasures``), deletes the contacts, their
consent ledger, links and evidence, and drops their waiting jobs, so a job queued before the
erasure cannot re-add the address to a list.
"""

from __future__ import annotations

import time
from typing import Any

from service.controls import has_control
from service.ledger import iso
from service.limits import address_hash
from service.mailbox import mailbox_key
from service.store import Store, Transaction
from service.verification.syntax import normalize


def canonical(email: str) -> str:
    return normalize(email) or email.strip()


def _nobodys(address: str) -> bool:
    """Text no stored address can be: a control character (PostgreSQL refuses a NUL in any
    text, so looking one up would fail; nothing we store holds one)."""
    return not address or has_control(address)


async def export_contact(store: Store, secret: str, email: str) -> dict[str, Any] | None:
    address = canonical(email)
    if _nobodys(address):
        return None
    contacts = await store.contacts_with_email(address)
    erased = await store.read(lambda tx: tx.erased_at(address_hash(secret, address)))
    if not contacts and erased is None:
        return None
    document: dict[str, Any] = {"email": address, "erased_at": iso(erased), "contacts": []}
    for contact in contacts:
        events = await store.events(contact.id)
        tokens = await store.confirmation_tokens(contact.id)
        link_events = await store.link_events(tokens)
        document["contacts"].append(
            {
                "form": contact.form_id,
                "status": contact.status,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "language": contact.language,
                "fields": dict(contact.fields),
                "lists": list(contact.lists),
                "created_at": iso(contact.created_at),
                "confirmed_at": iso(contact.confirmed_at),
                "unsubscribed_at": iso(contact.unsubscribed_at),
                "consent_ledger": [
                    {
                        "event": e.event,
                        "at": iso(e.at),
                        "ip": e.ip,
                        "user_agent": e.user_agent,
                        "page_url": e.page_url,
                        "consent_text": e.consent_text,
                        "detail": e.detail,
                    }
                    for e in events
                ],
                "link_activity": [
                    {
                        "at": iso(at),
                        "method": method,
                        "outcome": outcome,
                        "ip": ip,
                        "user_agent": user_agent,
                        "seconds_after_page": round(seconds, 2) if seconds is not None else None,
                    }
                    for _token, at, method, outcome, ip, user_agent, seconds in link_events
                ],
            }
        )
    return document


async def erase_contact(store: Store, secret: str, email: str) -> int:
    """Erase every contact with this address (all forms); returns how many there were.

    The keyed hash of its mailbox is kept too (``Ann.Lee+x@gmail.com`` → ``annlee@gmail.com``), so
    an import of another spelling of the same inbox cannot add the person back."""
    address = canonical(email)
    if _nobodys(address):
        return 0
    now = time.time()

    def erase(tx: Transaction) -> int:
        count = tx.erase(address, address_hash(secret, address), now)
        inbox = mailbox_key(address)
        if inbox != address.lower():
            tx.mark_erased(address_hash(secret, inbox), now)
        return count

    return await store.write(erase)
