"""An optin service wired to a fake ESP, and a fake that stamps (and may slow) every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from service.settings import Settings
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.fake_esps.server import Handler
from tests.support.app_server import base_config, confirm, link_in, make_settings, wait_for
from tests.support.db import rows
from tests.support.relay import PASSWORD, USER, Relay

OWNER = "owner@example.com"


class TimedMailchimp(FakeMailchimp):
    """Records when each request arrived; ``delay`` holds every answer back *after* the fake applied
    the request, like a slow ESP: a client killed meanwhile never learns that it succeeded."""

    def __init__(self, delay: float = 0.0, hold_after: int | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.arrivals: list[tuple[float, str, str]] = []
        # Once this many members are on the list, later requests wait (unapplied) until released:
        # a test can then kill the client with calls certainly in flight, however slow the machine.
        self.hold_after = hold_after
        self.released = asyncio.Event()

    async def _answer(self, request: Request, handler: Handler, body: Any) -> Response:
        self.arrivals.append((time.time(), request.method, request.url.path))
        if self.hold_after is not None and len(self.members) >= self.hold_after:
            await self.released.wait()
        response = await super()._answer(request, handler, body)
        if self.delay:
            await asyncio.sleep(self.delay)
        return response

    def batch_calls(self) -> list[Any]:
        """Bodies of the batch subscribe calls (``POST /3.0/lists/{id}``)."""
        return [s.body for s in self.seen if s.method == "POST" and s.path == f"/3.0/lists/{self.list_id}"]

    def member_count(self, email: str) -> int:
        return sum(1 for m in self.members.values() if m["email_address"].lower() == email.lower())


def mailchimp_table(fake: FakeMailchimp, **options: Any) -> dict[str, Any]:
    return {
        "kind": "mailchimp",
        "api_key": fake.api_key,
        "list_id": fake.list_id,
        "base_url": fake.base_url,
        **options,
    }


def esp_settings(
    db_url: str,
    nameserver: str,
    relay: Relay,
    ca_file: str,
    connector: dict[str, Any],
    owner_email: str = OWNER,
) -> Callable[[str], Settings]:
    """A service that mails through ``relay`` and sends the newsletter form's contacts to ``connector``."""

    def configure(url: str) -> Settings:
        config = base_config(
            db_url,
            url,
            nameserver,
            server={"owner_email": owner_email},
            smtp={
                "host": "127.0.0.1",
                "port": relay.port,
                "security": "starttls",
                "username": USER,
                "password": PASSWORD,
                "sender": "Test News <news@example.com>",
                "tls_ca_file": ca_file,
            },
        )
        config["connectors"] = {"esp": connector}
        config["forms"]["newsletter"]["connector"] = "esp"
        return make_settings(config)

    return configure


async def sign_up(http: httpx.AsyncClient, email: str, first_name: str | None = "Fresh") -> None:
    body = {"email": email, "consent": True, **({"first_name": first_name} if first_name else {})}
    answer = await http.post("/v1/forms/newsletter/subscribe", json=body)
    assert answer.status_code == 202, answer.text


async def sign_up_and_confirm(
    http: httpx.AsyncClient, relay: Relay, emails: list[str], unnamed: tuple[str, ...] = ()
) -> None:
    """Signup → confirmation email at the relay → the person presses the button."""
    for email in emails:
        await sign_up(http, email, None if email in unnamed else "Fresh")
    await wait_for(lambda: all(relay.to(e) for e in emails), timeout=30, what="the confirmation emails")
    for email in emails:
        answer = await confirm(http, link_in(relay.to(email)[-1], "confirm"))
        assert answer.status_code == 200, answer.text


def jobs_of(db_url: str, kind: str) -> list[tuple[str, str | None, float, int]]:
    """(state, last_error, run_at, attempts) of every job of ``kind``, read beside the service."""
    found = rows(
        db_url, "SELECT state, last_error, run_at, attempts FROM outbox WHERE kind = ? ORDER BY id", (kind,)
    )
    return [(r[0], r[1], r[2], r[3]) for r in found]


def settled(db_url: str, kind: str, count: int) -> bool:
    states = [state for state, *_ in jobs_of(db_url, kind)]
    return len(states) == count and "pending" not in states
