"""Mailjet API v3: confirmed contacts join a contact list.

``POST /v3/REST/contactslist/{id}/managecontact`` with ``Action: addnoforce`` creates or updates
the contact and adds it to the list *without* changing its subscription status: someone who
unsubscribed stays unsubscribed (``addforce`` would resubscribe them, so we never send it).
Properties must be defined first; missing ones are created through ``/contactmetadata``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from service.connectors.base import Contact, SyncResult
from service.connectors.http import EspApi, Options, Policy, field_values, json_body
from service.numbers import whole_number

DEFAULT_FIELDS = {"first_name": "firstname", "last_name": "lastname"}


class MailjetConnector:
    vendor = "Mailjet"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        secret_key: str,
        list_id: str,
        base_url: str = "https://api.mailjet.com",
        policy: Policy = "add_update",
        fields: Mapping[str, str] = DEFAULT_FIELDS,
        define_properties: bool = True,
        max_concurrency: int = 4,
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.list_id = list_id
        self.policy = policy
        self.fields = dict(fields)
        self.define_properties = define_properties
        self.max_concurrency = max_concurrency
        self._defined: set[str] | None = None
        self._defining = asyncio.Lock()
        self.api = EspApi(
            self.vendor,
            f"{base_url.rstrip('/')}/v3/REST",
            max_concurrency=max_concurrency,
            timeout=timeout,
            auth=(api_key, secret_key),
        )

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> MailjetConnector:
        o = Options(name, options)
        api_key, secret_key, list_id = o.text("api_key"), o.text("secret_key"), o.text("list_id")
        if list_id and whole_number(list_id) is None:
            o.problems.append(f"{o.where('list_id')} must be Mailjet's numeric list id (got {list_id!r})")
        o.refuse("tags", "Mailjet contacts have no tags; map them to a property")
        kw: dict[str, Any] = {
            "base_url": o.text("base_url", required=False, default="https://api.mailjet.com"),
            "policy": o.policy(),
            "fields": o.mapping("fields", DEFAULT_FIELDS),
            "define_properties": o.flag("define_properties", True),
            "max_concurrency": int(o.number("max_concurrency", 4)),
            "timeout": o.number("timeout", 30.0),
        }
        o.check()
        return cls(name, api_key=api_key, secret_key=secret_key, list_id=list_id, **kw)

    async def _ensure_properties(self) -> None:
        """Define (once) each mapped property Mailjet does not know yet, as a static string."""
        if not self.define_properties or self._defined is not None:
            return
        async with self._defining:
            if self._defined is not None:
                return
            r = await self.api.call("GET", "/contactmetadata", params={"Limit": "1000"})
            known = {str(m.get("Name", "")).lower() for m in (json_body(r) or {}).get("Data") or []}
            for prop in self.fields.values():
                if prop.lower() not in known:
                    body = {"Datatype": "str", "Name": prop, "NameSpace": "static"}
                    await self.api.call("POST", "/contactmetadata", json=body)
                    known.add(prop.lower())
            self._defined = known

    async def _membership(self, contact: Contact, list_id: str) -> dict[str, Any] | None:
        """This list's entry among the contact's lists, or None when not on it (or unknown)."""
        path = f"/contact/{quote(contact.email, safe='@')}/getcontactslists"
        r = await self.api.call("GET", path, accept=(404,))
        if r.status_code == 404:
            return None
        lists = (json_body(r) or {}).get("Data") or []
        return next((entry for entry in lists if str(entry.get("ListID")) == list_id), None)

    def _lists(self, contact: Contact) -> list[str]:
        """The Mailjet lists the contact chose, else the connector's own."""
        return contact.list_ids() or [self.list_id]

    async def _manage(self, contact: Contact, action: str, list_id: str) -> str | None:
        body: dict[str, Any] = {"Email": contact.email, "Action": action}
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        if name:
            body["Name"] = name
        properties = field_values(contact, self.fields)
        if properties and action != "unsub":
            body["Properties"] = properties
        r = await self.api.call("POST", f"/contactslist/{list_id}/managecontact", json=body)
        data = (json_body(r) or {}).get("Data") or [{}]
        contact_id = data[0].get("ContactID")
        return str(contact_id) if contact_id is not None else None

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        done: list[str] = []
        contact_id = None
        for list_id in self._lists(contact):
            which = "the Mailjet list" if list_id == self.list_id else f"Mailjet list {list_id}"
            if self.policy != "add_update":
                entry = await self._membership(contact, list_id)
                if entry is not None and self.policy == "add_only":
                    done.append(f"already on {which}; left unchanged (policy add_only)")
                    continue
                if entry is None and self.policy == "update_only":
                    done.append(f"not on {which}; not added (policy update_only)")
                    continue
            await self._ensure_properties()
            contact_id = await self._manage(contact, "addnoforce", list_id) or contact_id
            done.append(f"on Mailjet list {list_id} (addnoforce: an earlier unsubscribe is kept)")
        return SyncResult("; ".join(done), contact_id)

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        contact_id = None
        lists = self._lists(contact)
        for list_id in lists:
            contact_id = await self._manage(contact, "unsub", list_id) or contact_id
        return SyncResult(f"unsubscribed from Mailjet list {', '.join(lists)}", contact_id)

    async def check(self) -> SyncResult:
        r = await self.api.call("GET", f"/contactslist/{self.list_id}")
        info = ((json_body(r) or {}).get("Data") or [{}])[0]
        count = info.get("SubscriberCount", "?")
        return SyncResult(
            f"Mailjet list '{info.get('Name')}' is reachable ({count} subscribers)", self.list_id
        )

    async def aclose(self) -> None:
        await self.api.aclose()
