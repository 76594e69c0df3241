"""Plain records the store returns; no SQL and no I/O here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ContactStatus = Literal["pending", "confirmed", "unsubscribed"]
JobState = Literal["pending", "done", "dead", "dropped"]


@dataclass(frozen=True)
class ContactRow:
    id: int
    form_id: str
    email: str
    first_name: str | None
    last_name: str | None
    language: str
    status: ContactStatus
    created_at: float
    confirmed_at: float | None
    unsubscribed_at: float | None
    fields: Mapping[str, Any] = field(default_factory=dict)  # custom and campaign fields
    lists: tuple[str, ...] = ()  # the lists chosen (names of the form's lists)


@dataclass(frozen=True)
class CodeRow:
    """A confirmation as the code flow sees it: its code's keyed hash and the wrong tries so far."""

    token_id: str
    contact_id: int
    created_at: float
    used_at: float | None
    code_hash: str | None
    attempts: int
    adds_lists: tuple[str, ...] | None = None  # a confirmed contact's extra lists, or a first signup


@dataclass(frozen=True)
class ConsentEvent:
    """One line of a contact's consent ledger."""

    event: str
    at: float
    ip: str | None = None
    user_agent: str | None = None
    page_url: str | None = None
    consent_text: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class NewJob:
    """Work for the outbox; the idempotency key makes enqueueing the same work twice a no-op."""

    kind: str
    idempotency_key: str
    payload: dict[str, Any]

    def payload_json(self) -> str:
        return json.dumps(self.payload, sort_keys=True)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    state: JobState
    attempts: int
    run_at: float
    last_error: str | None
    created_at: float
    updated_at: float


@dataclass
class ConnectorHealth:
    """One row of ``connector_health``; the rules that change it live in service.connectors.status."""

    connector: str
    last_success_at: float | None = None
    last_success: str | None = None
    last_failure_at: float | None = None
    last_failure: str | None = None
    failing_since: float | None = None
    consecutive_failures: int = 0
    dead_letters: int = 0
    paused_until: float | None = None
    last_alert_at: float | None = None
    updated_at: float = 0.0


# Who was at a confirmation link, from what its page recorded (service.confirmation), as the
# funnel ranks it: a person (pressed the button with the page's nonce, after the dwell time), a
# scanner (HEAD, or a press without the nonce or too fast), or a page view (a GET: either).
LINK_RANK = {"person": 3, "scanner": 2, "page_view": 1, "other": 1}


def link_actor(method: str, outcome: str) -> str:
    if method == "POST" and outcome in ("confirmed", "already_confirmed"):
        return "person"
    if method == "HEAD" or (method == "POST" and outcome in ("missing_nonce", "bad_nonce", "too_fast")):
        return "scanner"
    return "page_view" if method == "GET" else "other"
