"""The list-connector interface: what the outbox needs from any mailing list.

A connector is told about one confirmed contact at a time (``upsert``) or that one left
(``unsubscribe``); ``check`` proves the credentials and the list are usable. Every method
raises :class:`service.errors.ConnectorError` on failure, with ``permanent`` set when a retry
cannot help (bad key, unknown list, invalid field) and ``retry_after`` when the remote said so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from service.errors import ConnectorError


@dataclass(frozen=True)
class Consent:
    """Proof of consent as recorded at signup and confirmation."""

    signed_up_at: datetime
    ip: str | None
    user_agent: str | None
    page_url: str | None
    consent_text: str | None
    confirmed_at: datetime | None = None
    confirmed_ip: str | None = None


@dataclass(frozen=True)
class ListTarget:
    """A list the visitor chose (``[forms.X.lists.NAME]``), as this connector's ESP names it:
    ``interest`` (Mailchimp), ``tag`` (a Mailchimp tag name, a GetResponse or Kit tag id) or
    ``list_id`` (Brevo, Mailjet, SendGrid); the webhook sends ``name``."""

    name: str
    tag: str = ""
    interest: str = ""
    list_id: str = ""


@dataclass(frozen=True)
class Contact:
    """A contact as a connector sees it: only what the list needs.

    ``fields`` holds the form's custom fields and the campaign fields (utm_*, referrer), as text;
    connectors send those their ``fields`` option maps. ``lists``: the lists chosen that live at
    this connector (empty when the form offers no choice: the connector's own list).
    """

    email: str
    form_id: str
    language: str
    first_name: str | None = None
    last_name: str | None = None
    consent: Consent | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    lists: tuple[ListTarget, ...] = ()

    def list_ids(self) -> list[str]:
        return [t.list_id for t in self.lists if t.list_id]

    def list_tags(self) -> list[str]:
        return [t.tag for t in self.lists if t.tag]


@dataclass(frozen=True)
class SyncResult:
    """What the list answered, in words, plus any id it gave us (kept for support)."""

    detail: str
    remote_id: str | None = None


class Connector(Protocol):
    """One configured mailing list.

    ``max_concurrency`` bounds how many calls the outbox makes to it at once (Mailchimp
    allows 10 connections per key, for instance).
    """

    name: str
    max_concurrency: int

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult: ...

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult: ...

    async def check(self) -> SyncResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BatchConnector(Connector, Protocol):
    """A connector whose list has a batch endpoint, used when a backlog builds.

    ``upsert_many`` returns one outcome per input, in order: a result, or the error for that
    contact alone. A failure of the whole call (auth, network, 429) is raised instead.
    """

    max_batch: int

    async def upsert_many(
        self, items: Sequence[tuple[Contact, str]]
    ) -> list[SyncResult | ConnectorError]: ...
