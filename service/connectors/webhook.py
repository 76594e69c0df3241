"""The signed webhook connector: Zapier, Make, n8n catch hooks, or your own endpoint.

Each event is a JSON POST signed per Standard Webhooks (default) or Stripe's scheme. The
``webhook-id`` is the outbox job's idempotency key, so a receiver can drop a redelivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from service.connectors.base import Contact, SyncResult
from service.connectors.signing import secret_bytes, standard_signature, stripe_signature
from service.errors import ConfigError, ConnectorError
from service.numbers import whole_number

USER_AGENT = "optin-webhook/1"


def contact_json(contact: Contact) -> dict[str, Any]:
    consent = contact.consent
    return {
        "email": contact.email,
        "form": contact.form_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "language": contact.language,
        "fields": dict(contact.fields),
        "tags": list(contact.tags),
        "lists": [target.name for target in contact.lists],
        "consent": None
        if consent is None
        else {
            "signed_up_at": consent.signed_up_at.isoformat(),
            "ip": consent.ip,
            "user_agent": consent.user_agent,
            "page_url": consent.page_url,
            "consent_text": consent.consent_text,
            "confirmed_at": consent.confirmed_at.isoformat() if consent.confirmed_at else None,
            "confirmed_ip": consent.confirmed_ip,
        },
    }


def retry_after_seconds(value: str | None) -> float | None:
    seconds = whole_number(value) if value else None
    return None if seconds is None else float(seconds)


@dataclass
class WebhookConnector:
    name: str
    url: str
    secret: str
    scheme: Literal["standard", "stripe"] = "standard"
    timeout: float = 10.0
    max_concurrency: int = 4

    def __post_init__(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=self.max_concurrency),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> WebhookConnector:
        where = f"connectors.{name}"
        problems = []
        url, secret = options.get("url"), options.get("secret")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            problems.append(f"{where}.url must be the http(s) URL that receives the events")
        if not isinstance(secret, str) or len(secret) < 16:
            problems.append(f'{where}.secret must be at least 16 characters (use secret = "env:NAME")')
        else:
            try:
                secret_bytes(secret)
            except ValueError as exc:
                problems.append(f"{where}.secret: {exc}")
        scheme = options.get("scheme", "standard")
        if scheme not in ("standard", "stripe"):
            problems.append(f'{where}.scheme must be "standard" or "stripe"')
        unknown = set(options) - {"kind", "url", "secret", "scheme", "timeout", "max_concurrency"}
        problems += [f"{where}.{key} is not a webhook setting" for key in sorted(unknown)]
        if problems:
            raise ConfigError(problems)
        return cls(
            name=name,
            url=str(url),
            secret=str(secret),
            scheme=scheme,
            timeout=float(options.get("timeout", 10.0)),
            max_concurrency=int(options.get("max_concurrency", 4)),
        )

    def signed_headers(self, msg_id: str, body: bytes, timestamp: int) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
        }
        if self.scheme == "stripe":
            headers["Optin-Signature"] = stripe_signature(self.secret, timestamp, body)
        else:
            headers["webhook-signature"] = standard_signature(self.secret, msg_id, timestamp, body)
        return headers

    async def _post(self, event: str, data: dict[str, Any], msg_id: str) -> SyncResult:
        timestamp = int(time.time())
        body = json.dumps(
            {"type": event, "timestamp": timestamp, "data": data}, separators=(",", ":")
        ).encode()
        try:
            response = await self._client.post(
                self.url, content=body, headers=self.signed_headers(msg_id, body, timestamp)
            )
        except httpx.HTTPError as exc:
            raise ConnectorError(f"the webhook at {self.url} could not be reached: {exc!r}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return SyncResult(f"the webhook answered {status}")
        excerpt = response.text[:300]
        transient = status in (408, 409, 425, 429) or status >= 500
        raise ConnectorError(
            f"the webhook answered {status}: {excerpt}",
            code=status,
            permanent=not transient,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        return await self._post("contact.confirmed", contact_json(contact), idempotency_key)

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        return await self._post("contact.unsubscribed", contact_json(contact), idempotency_key)

    async def check(self) -> SyncResult:
        return await self._post("ping", {"connector": self.name}, f"ping-{int(time.time())}")

    async def aclose(self) -> None:
        await self._client.aclose()
