"""The admin's Contacts page: one person's data, found by exact address; export; erase.

The address travels only in POST bodies, never in a URL (URLs end up in access logs and
browser history). Every view, export and erasure is recorded in ``data_access`` with who did it
and when, under the address's keyed hash; the page shows that record too. There is no list of
every address.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.ledger import link_actor
from service.limits import address_hash
from service.logs import redact
from service.privacy import canonical, erase_contact, export_contact
from service.store.audit import accesses, record_access
from service.web.admin_http import admin_page, field, render
from service.web.admin_session import Session
from service.web.client import client_ip
from service.web.context import services
from service.web.pages import PAGE_HEADERS

MAX_ADDRESS = 320


def _address(request: Request) -> str:
    return canonical(field(request, "email")[:MAX_ADDRESS])


async def _record(request: Request, action: str, address: str) -> str:
    svc = services(request)
    session: Session = request.state.session
    digest = address_hash(svc.settings.server.secret_key, address)
    await record_access(svc.store, session.actor, action, digest, client_ip(request), time.time())
    return digest


@admin_page("contacts")
async def search_page(request: Request) -> Response:
    return render(request, "admin/contacts.html", current="contacts", email="", document=None)


@admin_page("contacts")
async def find(request: Request) -> Response:
    svc = services(request)
    address = _address(request)
    document = await export_contact(svc.store, svc.settings.server.secret_key, address) if address else None
    context: dict[str, Any] = {"current": "contacts", "email": address, "document": document}
    if document is None:
        return render(request, "admin/contacts.html", status=404 if address else 200, **context)
    digest = await _record(request, "view", address)
    contacts = await svc.store.contacts_with_email(address)
    context.update(
        jobs=await svc.reports.contact_jobs([c.id for c in contacts]),
        forms={c.id: c.form_id for c in contacts},
        accesses=await accesses(svc.store, digest),
        actor=link_actor,
        redact=redact,
    )
    return render(request, "admin/contacts.html", **context)


@admin_page("export")
async def export(request: Request) -> Response:
    svc = services(request)
    address = _address(request)
    document = await export_contact(svc.store, svc.settings.server.secret_key, address) if address else None
    if document is None:
        return render(request, "admin/contacts.html", 404, current="contacts", email=address, document=None)
    await _record(request, "export", address)
    body = json.dumps(document, ensure_ascii=False, indent=2)
    headers = {
        **PAGE_HEADERS,
        "Content-Disposition": 'attachment; filename="optin-contact.json"',
    }
    return Response(body, media_type="application/json", headers=headers)


@admin_page("erase")
async def erase(request: Request) -> Response:
    """First press: a page asking to confirm. Second press (``confirm=yes``): erased."""
    svc = services(request)
    address = _address(request)
    if not address:
        return render(request, "admin/contacts.html", current="contacts", email="", document=None)
    if field(request, "confirm") != "yes":
        return render(request, "admin/erase.html", current="contacts", email=address, erased=None)
    count = await erase_contact(svc.store, svc.settings.server.secret_key, address)
    await _record(request, "erase", address)
    return render(request, "admin/erase.html", current="contacts", email=address, erased=count)
