"""GetResponse API v3: confirmed contacts are added to a campaign (GetResponse's word for a list).

``POST /v3/contacts`` answers 202 with an empty body (the contact is created asynchronously) or
409 when the address is already in the campaign; then, per policy, we find the contact and update
it with ``POST /v3/contacts/{id}``. There is no upsert. Someone who unsubscribed is gone from the
campaign, and GetResponse refuses to add a blocked address (400, code 1002): we report that in
words and never work around it. ``dayOfCycle`` is sent only when the form asks for the
autoresponder cycle (option ``day_of_cycle``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.connectors.base import Contact, SyncResult
from service.connectors.http import EspApi, Options, Policy, ResetHeader, field_values, json_body, tag_values
from service.errors import ConnectorError

BLOCKED = 1002  # "Resource state forbids that kind of action: Cannot add a contact that is blocked"


class GetResponseConnector:
    vendor = "GetResponse"
    max_batch = 1000

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        campaign_id: str,
        base_url: str = "https://api.getresponse.com",
        domain: str = "",
        policy: Policy = "add_update",
        fields: Mapping[str, str] | None = None,
        tags: tuple[str, ...] = (),
        tag_map: Mapping[str, str] | None = None,
        day_of_cycle: int | None = None,
        max_concurrency: int = 10,
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.campaign_id = campaign_id
        self.policy = policy
        self.fields = dict(fields or {})  # our field -> customFieldId
        self.tags = tags
        self.tag_map = dict(tag_map or {})
        self.day_of_cycle = day_of_cycle
        self.max_concurrency = max_concurrency
        headers = {"X-Auth-Token": f"api-key {api_key}"}
        if domain:
            headers["X-Domain"] = domain  # GetResponse MAX accounts
        self.api = EspApi(
            self.vendor,
            f"{base_url.rstrip('/')}/v3",
            max_concurrency=max_concurrency,
            timeout=timeout,
            headers=headers,
            reset=ResetHeader("x-ratelimit-reset", "seconds"),
        )

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> GetResponseConnector:
        o = Options(name, options)
        api_key, campaign_id = o.text("api_key"), o.text("campaign_id")
        o.read.add("day_of_cycle")
        day = options.get("day_of_cycle")
        if day is not None and (isinstance(day, bool) or not isinstance(day, int) or day < 0):
            o.problems.append(f"{o.where('day_of_cycle')} must be a whole number of days, 0 or more")
            day = None
        kw: dict[str, Any] = {
            "base_url": o.text("base_url", required=False, default="https://api.getresponse.com"),
            "domain": o.text("domain", required=False),
            "policy": o.policy(),
            "fields": o.mapping("fields", {}),
            "tags": o.strings("tags"),
            "tag_map": o.mapping("tag_map", {}),
            "max_concurrency": min(10, int(o.number("max_concurrency", 10))),
            "timeout": o.number("timeout", 30.0),
        }
        o.check()
        return cls(name, api_key=api_key, campaign_id=campaign_id, day_of_cycle=day, **kw)

    # -- bodies ----------------------------------------------------------------------------------

    def _details(self, contact: Contact) -> dict[str, Any]:
        body: dict[str, Any] = {}
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        if name:
            body["name"] = name
        values = [
            {"customFieldId": fid, "value": [v]} for fid, v in field_values(contact, self.fields).items()
        ]
        if values:
            body["customFieldValues"] = values
        return body

    def _new(self, contact: Contact) -> dict[str, Any]:
        body = {"email": contact.email, **self._details(contact)}
        if self.day_of_cycle is not None:
            body["dayOfCycle"] = str(self.day_of_cycle)
        return body

    def _tags(self, contact: Contact) -> list[dict[str, str]]:
        return [{"tagId": t} for t in tag_values(contact, self.tags, self.tag_map, passthrough=False)]

    # -- Connector -------------------------------------------------------------------------------

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        if self.policy == "update_only":
            found = await self._find(contact)
            if found is None:
                return SyncResult("not in the GetResponse campaign; not added (policy update_only)")
            return await self._update(contact, found)
        body: dict[str, Any] = {**self._new(contact), "campaign": {"campaignId": self.campaign_id}}
        if consent := contact.consent:
            if consent.confirmed_ip or consent.ip:
                body["ipAddress"] = consent.confirmed_ip or consent.ip
        if tags := self._tags(contact):
            body["tags"] = tags
        r = await self.api.call("POST", "/contacts", json=body, accept=(400, 409))
        if r.status_code == 400:
            return self._blocked(r)
        if r.status_code == 409:
            if self.policy == "add_only":
                return SyncResult("already in the GetResponse campaign; left unchanged (policy add_only)")
            found = await self._find(contact)
            if found is None:  # created a moment ago and not searchable yet
                raise ConnectorError("GetResponse says the contact exists but cannot find it yet", code=409)
            return await self._update(contact, found)
        return SyncResult(f"accepted by GetResponse into campaign {self.campaign_id} (added asynchronously)")

    def _blocked(self, r: Any) -> SyncResult:
        answer = json_body(r) or {}
        if answer.get("code") != BLOCKED:
            raise self.api.fail(r)
        return SyncResult(
            f"not added: GetResponse says '{answer.get('message')}' (blocked or unsubscribed there)"
        )

    async def _find(self, contact: Contact) -> str | None:
        params = {"query[email]": contact.email, "query[campaignId]": self.campaign_id}
        found = json_body(await self.api.call("GET", "/contacts", params=params)) or []
        return next(
            (str(c["contactId"]) for c in found if str(c.get("email", "")).lower() == contact.email.lower()),
            None,
        )

    async def _update(self, contact: Contact, contact_id: str) -> SyncResult:
        body = self._details(contact)
        if tags := self._tags(contact):
            body["tags"] = tags
        await self.api.call("POST", f"/contacts/{contact_id}", json=body)
        return SyncResult("updated in the GetResponse campaign", contact_id)

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        found = await self._find(contact)
        if found is None:
            return SyncResult("not in the GetResponse campaign; nothing to unsubscribe")
        await self.api.call("DELETE", f"/contacts/{found}", accept=(404,))
        return SyncResult("removed from the GetResponse campaign", found)

    async def check(self) -> SyncResult:
        info = json_body(await self.api.call("GET", f"/campaigns/{self.campaign_id}")) or {}
        return SyncResult(f"GetResponse campaign '{info.get('name')}' is reachable", info.get("campaignId"))

    async def upsert_many(self, items: Sequence[tuple[Contact, str]]) -> list[SyncResult | ConnectorError]:
        """One ``/contacts/batch`` import (≤ 1,000) under add_update; otherwise one call each.

        The import is asynchronous and answers 202 for the whole batch, so every contact gets the
        same acceptance; GetResponse applies its own block list to imports as to single adds.
        """
        if self.policy != "add_update" or self.tags or self.tag_map or any(c.lists for c, _ in items):
            results: list[SyncResult | ConnectorError] = []
            for contact, key in items:
                try:
                    results.append(await self.upsert(contact, idempotency_key=key))
                except ConnectorError as exc:
                    if not exc.permanent:  # throttled or down: the rest would fail the same way
                        return results + [exc] * (len(items) - len(results))
                    results.append(exc)
            return results
        body = {"campaignId": self.campaign_id, "contacts": [self._new(c) for c, _ in items]}
        await self.api.call("POST", "/contacts/batch", json=body)
        done = SyncResult(f"accepted by GetResponse in a batch import into campaign {self.campaign_id}")
        return [done for _ in items]

    async def aclose(self) -> None:
        await self.api.aclose()
