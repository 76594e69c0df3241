"""The consent ledger, a person's export and erasure, retention, and the admin keys guarding them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from service.admin import new_key
from service.retention import purge
from service.settings import AdminKey, Settings
from service.store import open_store
from tests.support.app_server import (
    HOOK_SECRET,
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    sign_up,
    wait_for,
)
from tests.support.relay import Relay
from tests.support.webhook_receiver import Receiver, run_receiver

POST = "/v1/forms/newsletter/subscribe"


def admin_settings(configure: Callable[[str], Settings]) -> tuple[Callable[[str], Settings], str]:
    """Settings with one admin key holding every scope; returns the key too."""
    key, digest = new_key()

    def build(url: str) -> Settings:
        return replace(configure(url), admin_keys=(AdminKey("ops", digest, frozenset({"admin"})),))

    return build, key


async def export_of(http: httpx.AsyncClient, key: str, email: str) -> dict[str, Any]:
    answer = await http.get(f"/v1/contacts/{email}/export", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


async def test_export_holds_the_consent_ledger_and_needs_a_scoped_key(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure, key = admin_settings(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    read_only, read_digest = new_key()

    def with_two_keys(url: str) -> Settings:
        settings = configure(url)
        return replace(
            settings, admin_keys=(*settings.admin_keys, AdminKey("ro", read_digest, frozenset({"read"})))
        )

    async with serve(with_two_keys) as (url, _):
        async with client(url) as http:
            await http.post(
                POST,
                json={
                    "email": "lea@example.org",
                    "first_name": "Léa",
                    "consent": True,
                    "page_url": "https://x.example/p",
                },
                headers={"User-Agent": "Safari/18"},
            )
            await wait_for(lambda: starttls_relay.messages, what="the confirmation")
            await confirm(http, link_in(starttls_relay.messages[0], "confirm"))
            path = "/v1/contacts/lea@example.org/export"
            assert (await http.get(path)).status_code == 401
            assert (await http.get(path, headers={"Authorization": "Bearer optin_nope"})).status_code == 401
            assert (await http.get(path, headers={"Authorization": f"Bearer {read_only}"})).status_code == 403
            document = await export_of(http, key, "lea@example.org")
            assert (
                await http.get(
                    "/v1/contacts/nobody@example.org/export", headers={"Authorization": f"Bearer {key}"}
                )
            ).status_code == 404
    contact = document["contacts"][0]
    assert contact["first_name"] == "Léa" and contact["status"] == "confirmed"
    signup, sent, confirmation = contact["consent_ledger"]
    assert sent["event"] == "confirmation_email_sent"
    assert sent["detail"] == f"message_id={starttls_relay.messages[0]['Message-ID']}"
    assert signup["event"] == "signup" and signup["user_agent"] == "Safari/18"
    assert signup["page_url"] == "https://x.example/p" and signup["consent_text"] == "Yes, email me."
    assert "consent_sha256=" in signup["detail"] and "version=" in signup["detail"]
    assert confirmation["event"] == "confirmation" and confirmation["ip"] == "127.0.0.1"


async def test_erasure_wins_over_a_job_queued_before_it(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    receiver = Receiver(HOOK_SECRET, replies=[503] * 3)  # the list is down when the contact confirms
    async with run_receiver(receiver) as hook:
        configure, key = admin_settings(relay_settings(db_url, nameserver, starttls_relay, ca_file, hook.url))
        async with serve(configure) as (url, _):
            async with client(url) as http:
                await confirm(http, await sign_up(http, starttls_relay, "eve@example.org"))
                await wait_for(lambda: not receiver.replies, what="the list to refuse three times")
                answer = await http.delete(
                    "/v1/contacts/eve@example.org", headers={"Authorization": f"Bearer {key}"}
                )
                assert answer.json()["contacts"] == 1
                await asyncio.sleep(3.0)  # the retries would have come by now
                assert receiver.events == []
                assert (
                    await http.get(
                        "/v1/contacts/eve@example.org/export", headers={"Authorization": f"Bearer {key}"}
                    )
                ).json()["contacts"] == []
    store = await open_store(db_url)
    try:
        assert await store.contacts() == []
        jobs = await store.jobs()
        assert {j.state for j in jobs if j.kind == "connector_upsert"} == {"dropped"}
        assert all("eve@example.org" not in str(j.payload) for j in jobs)
    finally:
        await store.close()


async def test_retention_purges_never_confirmed_contacts(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, settings):
        async with client(url) as http:
            for email in ("kept@example.org", "gone@example.org"):
                await http.post(POST, json={"email": email, "consent": True})
            await wait_for(lambda: len(starttls_relay.messages) == 2, what="two confirmations")
            await confirm(http, link_in(starttls_relay.to("kept@example.org")[0], "confirm"))
    store = await open_store(db_url)
    try:
        assert await purge(store, settings, time.time()) == 0
        assert await purge(store, settings, time.time() + 31 * 86_400) == 1
        assert [c.email for c in await store.contacts()] == ["kept@example.org"]
    finally:
        await store.close()


async def test_security_headers(starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)

    def https(url: str) -> Settings:
        settings = configure(url)
        return replace(settings, server=replace(settings.server, public_url="https://signup.example.com"))

    async with serve(https) as (url, _):
        async with client(url) as http:
            api = await http.post(POST, json={"email": "x"})
            page = await http.get("/thanks")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "max-age=" in api.headers["strict-transport-security"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_an_address_with_a_control_character_finds_and_erases_nobody(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    # PostgreSQL refuses a NUL in any text: looking such an address up answered 500 there. No
    # stored address holds a control character, so it is nobody's, on either database.
    from tests.admin.support import KEYS, signed_in, with_admin
    from tests.support.db import rows

    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    bearer = {"Authorization": f"Bearer {KEYS['ops'][0]}"}
    async with serve(configure) as (url, _), client(url) as http:
        await sign_up(http, starttls_relay, "lea@example.org")
        for odd in ("lea\u0000@example.org", "lea@example.org\u0000", "\u0001lea@example.org"):
            quoted = odd.replace("\u0000", "%00").replace("\u0001", "%01")
            assert (await http.get(f"/v1/contacts/{quoted}/export", headers=bearer)).status_code == 404
            erased = await http.delete(f"/v1/contacts/{quoted}", headers=bearer)
            assert erased.status_code < 500, erased.text
        csrf = await signed_in(http, "ops")
        for odd in ("lea\u0000@example.org", "lea@example.org\u0000"):
            found = await http.post("/admin/contacts", data={"csrf": csrf, "email": odd})
            assert found.status_code == 404 and "No contact has this address." in found.text
            exported = await http.post("/admin/contacts/export", data={"csrf": csrf, "email": odd})
            assert exported.status_code == 404
            erased = await http.post(
                "/admin/contacts/erase", data={"csrf": csrf, "email": odd, "confirm": odd}
            )
            assert erased.status_code < 500, erased.text
    assert rows(db_url, "SELECT email FROM contacts") == [("lea@example.org",)]
    assert rows(db_url, "SELECT count(*) FROM erasures") == [(0,)]
