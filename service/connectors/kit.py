"""Kit (ex-ConvertKit) API v4: create or update the subscriber, then add them to a form or tags.

``POST /v4/subscribers`` is an upsert that never changes a subscriber's state, and answers with
it: a subscriber who is ``cancelled`` (unsubscribed), ``complained`` or ``bounced`` at Kit is not
added to the form or tagged, so nothing we do can bring them back. Custom fields must exist in
Kit (unknown ones are silently ignored); ``first_name`` is Kit's only built-in field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.connectors.base import Contact, SyncResult
from service.connectors.http import EspApi, Options, Policy, field_values, json_body, tag_values
from service.errors import ConnectorError
from service.numbers import whole_number

GONE = ("cancelled", "complained", "bounced")
DEFAULT_FIELDS = {"first_name": "first_name"}


class KitConnector:
    vendor = "Kit"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        form_id: str = "",
        base_url: str = "https://api.kit.com",
        policy: Policy = "add_update",
        fields: Mapping[str, str] = DEFAULT_FIELDS,
        tags: tuple[str, ...] = (),
        tag_map: Mapping[str, str] | None = None,
        max_concurrency: int = 2,
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.form_id = form_id
        self.policy = policy
        self.fields = dict(fields)
        self.tags = tags
        self.tag_map = dict(tag_map or {})
        self.max_concurrency = max_concurrency
        self.api = EspApi(
            self.vendor,
            base_url,
            max_concurrency=max_concurrency,
            timeout=timeout,
            headers={"X-Kit-Api-Key": api_key, "Accept": "application/json"},
            # Kit's 429 is plain text "Retry later" without Retry-After; 60 s resets the window.
            throttle_wait=60.0,
        )

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> KitConnector:
        o = Options(name, options)
        api_key = o.text("api_key")
        form_id = o.text("form_id", required=False)
        tags, tag_map = o.strings("tags"), o.mapping("tag_map", {})
        for key, ids in (
            ("form_id", [form_id] if form_id else []),
            ("tags", tags),
            ("tag_map", tag_map.values()),
        ):
            if any(whole_number(i) is None for i in ids):
                o.problems.append(f"{o.where(key)} must hold Kit's numeric ids")
        if not form_id and not tags:
            o.problems.append(
                f"connectors.{name} needs form_id or tags (Kit ids) to put subscribers somewhere"
            )
        kw: dict[str, Any] = {
            "base_url": o.text("base_url", required=False, default="https://api.kit.com"),
            "policy": o.policy(),
            "fields": o.mapping("fields", DEFAULT_FIELDS),
            "max_concurrency": int(o.number("max_concurrency", 2)),
            "timeout": o.number("timeout", 30.0),
        }
        o.check()
        return cls(name, api_key=api_key, form_id=form_id, tags=tags, tag_map=tag_map, **kw)

    async def _find(self, email: str) -> dict[str, Any] | None:
        params = {"email_address": email, "status": "all"}
        found = json_body(await self.api.call("GET", "/v4/subscribers", params=params)) or {}
        return next(iter(found.get("subscribers") or []), None)

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        if self.policy != "add_update":
            existing = await self._find(contact.email)
            if existing is not None and self.policy == "add_only":
                return SyncResult(
                    "already a Kit subscriber; left unchanged (policy add_only)", str(existing["id"])
                )
            if existing is None and self.policy == "update_only":
                return SyncResult("not a Kit subscriber; not added (policy update_only)")
        values = field_values(contact, self.fields)
        body: dict[str, Any] = {"email_address": contact.email}
        if "first_name" in values:
            body["first_name"] = values.pop("first_name")
        if values:
            body["fields"] = values
        r = await self.api.call("POST", "/v4/subscribers", json=body)
        subscriber = (json_body(r) or {}).get("subscriber") or {}
        remote_id = str(subscriber.get("id", "")) or None
        state = subscriber.get("state")
        if state in GONE:
            return SyncResult(f"fields updated; the subscriber is '{state}' at Kit and stays so", remote_id)
        done = ["created" if r.status_code == 201 else "updated"]
        if self.form_id:
            form_body = {"email_address": contact.email}
            if contact.consent is not None and contact.consent.page_url:
                form_body["referrer"] = contact.consent.page_url
            await self.api.call("POST", f"/v4/forms/{self.form_id}/subscribers", json=form_body)
            done.append(f"added to form {self.form_id}")
        tags = tag_values(contact, self.tags, self.tag_map, passthrough=False)
        for tag_id in tags:
            await self.api.call(
                "POST", f"/v4/tags/{tag_id}/subscribers", json={"email_address": contact.email}
            )
        if tags:
            done.append(f"tagged {', '.join(tags)}")
        return SyncResult(f"Kit subscriber {' and '.join(done)}", remote_id)

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        existing = await self._find(contact.email)
        if existing is None:
            return SyncResult("not a Kit subscriber; nothing to unsubscribe")
        if existing.get("state") == "cancelled":
            return SyncResult("already unsubscribed at Kit", str(existing["id"]))
        await self.api.call("POST", f"/v4/subscribers/{existing['id']}/unsubscribe", json={})
        return SyncResult("unsubscribed at Kit", str(existing["id"]))

    async def check(self) -> SyncResult:
        if not self.form_id:
            account = (json_body(await self.api.call("GET", "/v4/account")) or {}).get("account") or {}
            return SyncResult(f"Kit account '{account.get('name')}' is reachable", str(account.get("id", "")))
        r = await self.api.call("GET", "/v4/forms", params={"status": "all", "per_page": "1000"})
        for form in (json_body(r) or {}).get("forms") or []:
            if str(form.get("id")) == self.form_id:
                return SyncResult(f"Kit form '{form.get('name')}' is reachable", self.form_id)
        raise ConnectorError(
            f"Kit answered, but has no form {self.form_id} in this account", code=404, permanent=True
        )

    async def aclose(self) -> None:
        await self.api.aclose()
