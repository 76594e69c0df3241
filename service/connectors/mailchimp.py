"""Mailchimp Marketing API v3: confirmed contacts become audience members.

Upsert is ``PUT /3.0/lists/{list}/members/{md5(lowercase email)}`` with ``status_if_new``:
a member who unsubscribed keeps that status (sending ``status`` would resubscribe them).
Our double opt-in is already done, so new members are ``subscribed`` with ``ip_opt`` and
``timestamp_opt`` from the consent record. Batches go to ``POST /3.0/lists/{list}`` (at most
500) without ``update_existing``; members that already exist are then upserted one by one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

import httpx

from service.connectors.base import Contact, SyncResult
from service.connectors.http import EspApi, Options, Policy, field_values, json_body, tag_values
from service.errors import ConnectorError

DEFAULT_FIELDS = {"first_name": "FNAME", "last_name": "LNAME"}
GONE = ("unsubscribed", "cleaned")


def _overloaded(response: httpx.Response) -> bool:
    """Past 10 connections Mailchimp may answer 403 without its JSON problem document."""
    return response.status_code == 403 and "json" not in response.headers.get("content-type", "")


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


class MailchimpConnector:
    vendor = "Mailchimp"
    max_batch = 500

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        list_id: str,
        base_url: str,
        policy: Policy = "add_update",
        fields: Mapping[str, str] = DEFAULT_FIELDS,
        tags: tuple[str, ...] = (),
        tag_map: Mapping[str, str] | None = None,
        send_language: bool = True,
        max_concurrency: int = 10,
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.list_id = list_id
        self.policy = policy
        self.fields = dict(fields)
        self.tags = tags
        self.tag_map = dict(tag_map or {})
        self.send_language = send_language
        self.max_concurrency = max_concurrency
        self.api = EspApi(
            self.vendor,
            f"{base_url.rstrip('/')}/3.0",
            max_concurrency=max_concurrency,
            timeout=timeout,
            auth=("optin", api_key),
            overloaded=_overloaded,
        )

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> MailchimpConnector:
        o = Options(name, options)
        api_key = o.text("api_key")
        list_id = o.text("list_id")
        base_url = o.text("base_url", required=False)
        if api_key and not base_url:
            dc = api_key.rpartition("-")[2]
            if "-" not in api_key or not dc.isalnum():
                o.problems.append(
                    f"{o.where('api_key')} does not end in a data centre like '-us21'; "
                    "copy the whole key from Mailchimp or set base_url"
                )
            base_url = f"https://{dc}.api.mailchimp.com"
        connector_kw: dict[str, Any] = {
            "policy": o.policy(),
            "fields": o.mapping("fields", DEFAULT_FIELDS),
            "tags": o.strings("tags"),
            "tag_map": o.mapping("tag_map", {}),
            "send_language": o.flag("send_language", True),
            "max_concurrency": min(10, int(o.number("max_concurrency", 10))),
            "timeout": o.number("timeout", 30.0),
        }
        o.check()
        return cls(name, api_key=api_key, list_id=list_id, base_url=base_url, **connector_kw)

    # -- bodies ----------------------------------------------------------------------------------

    def _member(self, contact: Contact) -> dict[str, Any]:
        body: dict[str, Any] = {"email_address": contact.email}
        merge = field_values(contact, self.fields)
        if merge:
            body["merge_fields"] = merge
        interests = {t.interest: True for t in contact.lists if t.interest}
        if interests:  # the interest groups chosen; others the member has are left as they are
            body["interests"] = interests
        if self.send_language and contact.language:
            body["language"] = contact.language.replace("-", "_").split("_")[0].lower()
        consent = contact.consent
        if consent is not None:
            if consent.ip:
                body["ip_signup"] = consent.ip
            body["timestamp_signup"] = consent.signed_up_at.isoformat()
            if consent.confirmed_ip:
                body["ip_opt"] = consent.confirmed_ip
            if consent.confirmed_at is not None:
                body["timestamp_opt"] = consent.confirmed_at.isoformat()
        return body

    def _path(self, contact: Contact) -> str:
        return f"/lists/{self.list_id}/members/{subscriber_hash(contact.email)}"

    # -- Connector -------------------------------------------------------------------------------

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        if self.policy == "add_only":
            body = {**self._member(contact), "status": "subscribed"}
            r = await self.api.call("POST", f"/lists/{self.list_id}/members", json=body, accept=(400,))
            if r.status_code == 400:
                answer = json_body(r) or {}
                if answer.get("title") != "Member Exists":
                    raise self.api.fail(r)
                return SyncResult("already on the Mailchimp list; left unchanged (policy add_only)")
            member = json_body(r) or {}
            return await self._tagged(contact, member, "added to the Mailchimp list as subscribed")
        if self.policy == "update_only":
            r = await self.api.call("GET", self._path(contact), params={"fields": "id,status"}, accept=(404,))
            if r.status_code == 404:
                return SyncResult("not on the Mailchimp list; not added (policy update_only)")
            r = await self.api.call("PATCH", self._path(contact), json=self._member(contact))
            return await self._tagged(contact, json_body(r) or {}, "updated on the Mailchimp list")
        return await self._put(contact)

    async def _put(self, contact: Contact) -> SyncResult:
        body = {**self._member(contact), "status_if_new": "subscribed"}
        r = await self.api.call("PUT", self._path(contact), json=body)
        member = json_body(r) or {}
        return await self._tagged(contact, member, "on the Mailchimp list as subscribed")

    async def _tagged(self, contact: Contact, member: Mapping[str, Any], done: str) -> SyncResult:
        status = member.get("status")
        remote_id = member.get("id") or subscriber_hash(contact.email)
        if status in GONE:
            return SyncResult(
                f"fields updated; the member is '{status}' at Mailchimp and stays so (not resubscribed)",
                remote_id,
            )
        tags = tag_values(contact, self.tags, self.tag_map, passthrough=True)
        if tags:
            body = {"tags": [{"name": t, "status": "active"} for t in tags]}
            await self.api.call("POST", f"{self._path(contact)}/tags", json=body)
            done += f", tagged {', '.join(tags)}"
        return SyncResult(done, remote_id)

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        body = {"status": "unsubscribed"}
        r = await self.api.call("PATCH", self._path(contact), json=body, accept=(404,))
        if r.status_code == 404:
            return SyncResult("not on the Mailchimp list; nothing to unsubscribe")
        return SyncResult("unsubscribed on the Mailchimp list", (json_body(r) or {}).get("id"))

    async def check(self) -> SyncResult:
        r = await self.api.call(
            "GET", f"/lists/{self.list_id}", params={"fields": "id,name,stats.member_count"}
        )
        info = json_body(r) or {}
        count = (info.get("stats") or {}).get("member_count", "?")
        return SyncResult(
            f"Mailchimp audience '{info.get('name')}' is reachable ({count} members)", info.get("id")
        )

    async def upsert_many(self, items: Sequence[tuple[Contact, str]]) -> list[SyncResult | ConnectorError]:
        if self.policy == "update_only":
            return await self._each([partial(self.upsert, c, idempotency_key=k) for c, k in items])
        body = {
            "members": [{**self._member(c), "status": "subscribed"} for c, _ in items],
            "update_existing": False,
        }
        answer = json_body(await self.api.call("POST", f"/lists/{self.list_id}", json=body)) or {}
        added = {m["email_address"].lower(): m for m in answer.get("new_members") or []}
        errors = {e["email_address"].lower(): e for e in answer.get("errors") or [] if e.get("email_address")}
        out: list[SyncResult | ConnectorError] = []
        later: dict[int, Callable[[], Awaitable[SyncResult]]] = {}
        for i, (contact, _) in enumerate(items):
            email = contact.email.lower()
            error = errors.get(email)
            out.append(ConnectorError(f"Mailchimp's batch answer did not mention {contact.email}"))
            if email in added:
                member = added[email]
                # New members still need their tags, which the batch call does not take.
                later[i] = partial(self._tagged, contact, member, "added to the Mailchimp list in a batch")
            elif error is not None and error.get("error_code") == "ERROR_CONTACT_EXISTS":
                out[i] = SyncResult("already on the Mailchimp list; left unchanged (policy add_only)")
                if self.policy == "add_update":
                    # An upsert with status_if_new updates the fields and keeps the member's status.
                    later[i] = partial(self._put, contact)
            elif error is not None:
                detail = (
                    f"Mailchimp refused {contact.email}: {error.get('error')} ({error.get('error_code')})"
                )
                out[i] = ConnectorError(detail, code=400, permanent=True)
        for i, result in zip(later, await self._each(list(later.values())), strict=True):
            out[i] = result
        return out

    async def _each(
        self, calls: Sequence[Callable[[], Awaitable[SyncResult]]]
    ) -> list[SyncResult | ConnectorError]:
        gate = asyncio.Semaphore(self.max_concurrency)

        async def one(call: Callable[[], Awaitable[SyncResult]]) -> SyncResult | ConnectorError:
            async with gate:
                try:
                    return await call()
                except ConnectorError as exc:
                    return exc

        return list(await asyncio.gather(*(one(call) for call in calls)))

    async def aclose(self) -> None:
        await self.api.aclose()
