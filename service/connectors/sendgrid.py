"""SendGrid Marketing Campaigns: confirmed contacts are upserted into a list.

``PUT /v3/marketing/contacts`` is asynchronous: SendGrid answers 202 with a ``job_id`` (kept as the
remote id) and imports later. Unsubscribes live apart from contacts, in SendGrid's suppression
lists, which an upsert never touches: someone who unsubscribed stays suppressed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from service.connectors.base import Contact, SyncResult
from service.connectors.http import EspApi, Options, Policy, ResetHeader, field_values, json_body
from service.errors import ConnectorError

# Fields SendGrid reserves (sent at the top level); any other target is a custom field id.
RESERVED = frozenset(
    {
        "first_name",
        "last_name",
        "address_line_1",
        "address_line_2",
        "city",
        "country",
        "postal_code",
        "state_province_region",
        "phone_number_id",
        "external_id",
        "anonymous_id",
    }
)
DEFAULT_FIELDS = {"first_name": "first_name", "last_name": "last_name"}
SEARCH_LIMIT = 100  # addresses per search/emails call
MAX_BODY = 5_000_000  # bytes; SendGrid refuses bodies over 6 MB


class SendGridConnector:
    vendor = "SendGrid"
    max_batch = 30_000

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        list_id: str,
        base_url: str = "https://api.sendgrid.com",
        policy: Policy = "add_update",
        fields: Mapping[str, str] = DEFAULT_FIELDS,
        max_concurrency: int = 4,
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.list_id = list_id
        self.policy = policy
        self.fields = dict(fields)
        self.max_concurrency = max_concurrency
        self.api = EspApi(
            self.vendor,
            base_url,
            max_concurrency=max_concurrency,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
            reset=ResetHeader("x-ratelimit-reset", "epoch"),
        )

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> SendGridConnector:
        o = Options(name, options)
        api_key, list_id = o.text("api_key"), o.text("list_id")
        o.refuse("tags", "SendGrid contacts have no tags; map them to a custom field")
        kw: dict[str, Any] = {
            "base_url": o.text("base_url", required=False, default="https://api.sendgrid.com"),
            "policy": o.policy(),
            "fields": o.mapping("fields", DEFAULT_FIELDS),
            "max_concurrency": int(o.number("max_concurrency", 4)),
            "timeout": o.number("timeout", 60.0),
        }
        o.check()
        return cls(name, api_key=api_key, list_id=list_id, **kw)

    def _contact(self, contact: Contact) -> dict[str, Any]:
        body: dict[str, Any] = {"email": contact.email}
        custom: dict[str, str] = {}
        for target, value in field_values(contact, self.fields).items():
            (body if target in RESERVED else custom)[target] = value
        if custom:
            body["custom_fields"] = custom
        return body

    async def _put(self, contacts: Sequence[Contact]) -> list[str | None]:
        """Upsert in as few calls as SendGrid's 6 MB body limit allows (one per set of lists chosen);
        one job id per contact, in order."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, contact in enumerate(contacts):
            groups.setdefault(tuple(contact.list_ids() or [self.list_id]), []).append(i)
        jobs: list[str | None] = [None] * len(contacts)
        for list_ids, members in groups.items():
            for i, job in zip(
                members, await self._put_group(list_ids, [contacts[i] for i in members]), strict=True
            ):
                jobs[i] = job
        return jobs

    async def _put_group(self, list_ids: tuple[str, ...], contacts: Sequence[Contact]) -> list[str | None]:
        bodies = [self._contact(c) for c in contacts]
        jobs: list[str | None] = []
        start, size = 0, 0
        for end, body in enumerate([*bodies, None]):
            item = len(json.dumps(body)) + 1 if body is not None else 0
            if body is None or (size + item > MAX_BODY and end > start):
                payload = {"list_ids": list(list_ids), "contacts": bodies[start:end]}
                r = await self.api.call("PUT", "/v3/marketing/contacts", json=payload)
                jobs += [(json_body(r) or {}).get("job_id")] * (end - start)
                start, size = end, 0
            size += item
        return jobs

    async def _known(self, emails: Sequence[str]) -> dict[str, str]:
        """Lower-case address -> SendGrid contact id, for the addresses SendGrid already has."""
        found: dict[str, str] = {}
        for start in range(0, len(emails), SEARCH_LIMIT):
            chunk = list(emails[start : start + SEARCH_LIMIT])
            r = await self.api.call(
                "POST", "/v3/marketing/contacts/search/emails", json={"emails": chunk}, accept=(404,)
            )
            for email, hit in ((json_body(r) or {}).get("result") or {}).items():
                contact = hit.get("contact") if isinstance(hit, dict) else None
                if contact:
                    found[email.lower()] = str(contact.get("id", ""))
        return found

    def _skipped(self, contact: Contact, known: Mapping[str, str]) -> SyncResult | None:
        exists = contact.email.lower() in known
        if self.policy == "add_only" and exists:
            return SyncResult(
                "already a SendGrid contact; left unchanged (policy add_only)", known[contact.email.lower()]
            )
        if self.policy == "update_only" and not exists:
            return SyncResult("not a SendGrid contact; not added (policy update_only)")
        return None

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        [result] = await self.upsert_many([(contact, idempotency_key)])
        if isinstance(result, ConnectorError):
            raise result
        return result

    async def upsert_many(self, items: Sequence[tuple[Contact, str]]) -> list[SyncResult | ConnectorError]:
        contacts = [c for c, _ in items]
        known = await self._known([c.email for c in contacts]) if self.policy != "add_update" else {}
        skipped = [self._skipped(c, known) for c in contacts]
        to_send = [c for c, s in zip(contacts, skipped, strict=True) if s is None]
        jobs = iter(await self._put(to_send) if to_send else [])
        return [s if s is not None else self._accepted(next(jobs)) for s in skipped]

    def _accepted(self, job_id: str | None) -> SyncResult:
        detail = f"accepted by SendGrid for list {self.list_id} (import job {job_id}); suppressions are kept"
        return SyncResult(detail, job_id)

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        contact_id = (await self._known([contact.email])).get(contact.email.lower())
        if not contact_id:
            return SyncResult("not a SendGrid contact; nothing to unsubscribe")
        lists = contact.list_ids() or [self.list_id]
        job = None
        for list_id in lists:
            path = f"/v3/marketing/lists/{list_id}/contacts"
            r = await self.api.call("DELETE", path, params={"contact_ids": contact_id})
            job = (json_body(r) or {}).get("job_id") or job
        return SyncResult(f"removed from SendGrid list {', '.join(lists)}", job)

    async def check(self) -> SyncResult:
        r = await self.api.call("GET", f"/v3/marketing/lists/{self.list_id}")
        info = json_body(r) or {}
        count = info.get("contact_count", "?")
        return SyncResult(
            f"SendGrid list '{info.get('name')}' is reachable ({count} contacts)", info.get("id")
        )

    async def aclose(self) -> None:
        await self.api.aclose()
