"""Brevo (ex-Sendinblue) API v3: confirmed contacts join a contact list.

Upsert is ``POST /v3/contacts`` with ``listIds``, ``attributes`` and ``updateEnabled``. We never
send ``emailBlacklisted``: a contact who unsubscribed at Brevo is blacklisted there and stays so.
Attributes are upper-case names that must exist in the account (FIRSTNAME, LASTNAME...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from service.connectors.base import Contact, SyncResult
from service.connectors.http import EspApi, Options, Policy, ResetHeader, field_values, json_body
from service.numbers import whole_number

DEFAULT_FIELDS = {"first_name": "FIRSTNAME", "last_name": "LASTNAME"}


class BrevoConnector:
    vendor = "Brevo"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        list_id: int,
        base_url: str = "https://api.brevo.com",
        policy: Policy = "add_update",
        fields: Mapping[str, str] = DEFAULT_FIELDS,
        max_concurrency: int = 5,
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.list_id = list_id
        self.policy = policy
        self.fields = dict(fields)
        self.max_concurrency = max_concurrency
        self.api = EspApi(
            self.vendor,
            f"{base_url.rstrip('/')}/v3",
            max_concurrency=max_concurrency,
            timeout=timeout,
            headers={"api-key": api_key, "Accept": "application/json"},
            # Brevo's x-sib-ratelimit-reset is the number of seconds until the window resets.
            reset=ResetHeader("x-sib-ratelimit-reset", "seconds"),
        )

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> BrevoConnector:
        o = Options(name, options)
        api_key = o.text("api_key")
        raw_list = o.text("list_id")
        if raw_list and whole_number(raw_list) is None:
            o.problems.append(f"{o.where('list_id')} must be Brevo's numeric list id (got {raw_list!r})")
        o.refuse("tags", "Brevo contacts have no tags; map them to an attribute instead")
        kw: dict[str, Any] = {
            "base_url": o.text("base_url", required=False, default="https://api.brevo.com"),
            "policy": o.policy(),
            "fields": o.mapping("fields", DEFAULT_FIELDS),
            "max_concurrency": int(o.number("max_concurrency", 5)),
            "timeout": o.number("timeout", 30.0),
        }
        o.check()
        return cls(name, api_key=api_key, list_id=int(raw_list), **kw)

    def _contact_path(self, contact: Contact) -> str:
        return f"/contacts/{quote(contact.email, safe='@')}"

    def _lists(self, contact: Contact) -> list[int]:
        """The Brevo lists the contact chose, else the connector's own."""
        return [int(i) for i in contact.list_ids()] or [self.list_id]

    def _named(self, lists: list[int]) -> str:
        return f"list {lists[0]}" if len(lists) == 1 else f"lists {', '.join(map(str, lists))}"

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        attributes = field_values(contact, self.fields)
        lists = self._lists(contact)
        if self.policy == "update_only":
            body: dict[str, Any] = {"listIds": lists}
            if attributes:
                body["attributes"] = attributes
            params = {"identifierType": "email_id"}
            r = await self.api.call(
                "PUT", self._contact_path(contact), json=body, params=params, accept=(404,)
            )
            if r.status_code == 404:
                return SyncResult("not a Brevo contact; not added (policy update_only)")
            return SyncResult(f"updated and linked to Brevo {self._named(lists)}")
        body = {"email": contact.email, "listIds": lists}
        if attributes:
            body["attributes"] = attributes
        if self.policy == "add_update":
            body["updateEnabled"] = True
        r = await self.api.call("POST", "/contacts", json=body, accept=(400,))
        if r.status_code == 400:
            answer = json_body(r) or {}
            if answer.get("code") == "duplicate_parameter" or "already exist" in str(answer.get("message")):
                return SyncResult("already a Brevo contact; left unchanged (policy add_only)")
            raise self.api.fail(r)
        if r.status_code == 201:
            created = json_body(r) or {}
            return SyncResult(f"created in Brevo {self._named(lists)}", str(created.get("id", "")) or None)
        # 204: the contact existed; its blacklist flags are untouched, so an unsubscriber stays one.
        return SyncResult(f"updated and linked to Brevo {self._named(lists)} (unsubscribe status kept)")

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        lists = self._lists(contact)
        body = {"unlinkListIds": lists}
        params = {"identifierType": "email_id"}
        r = await self.api.call("PUT", self._contact_path(contact), json=body, params=params, accept=(404,))
        if r.status_code == 404:
            return SyncResult("not a Brevo contact; nothing to unsubscribe")
        return SyncResult(f"removed from Brevo {self._named(lists)}")

    async def check(self) -> SyncResult:
        r = await self.api.call("GET", f"/contacts/lists/{self.list_id}")
        info = json_body(r) or {}
        count = info.get("uniqueSubscribers", info.get("totalSubscribers", "?"))
        return SyncResult(
            f"Brevo list '{info.get('name')}' is reachable ({count} contacts)", str(self.list_id)
        )

    async def aclose(self) -> None:
        await self.api.aclose()
