"""Confirmation links: signed, expiring, single-use; scanners and tampering change nothing."""

from __future__ import annotations

import asyncio

from tests.support.app_server import (
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    sign_up,
    stored,
    wait_for,
)
from tests.support.relay import Relay


async def test_tampered_and_truncated_links_are_refused(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            link = await sign_up(http, starttls_relay, "kim@example.org")
            token = link.rsplit("/", 1)[1]
            forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
            for bad in (f"{url}/confirm/{forged}", link[:-10], f"{url}/confirm/1"):
                assert (await http.get(bad)).status_code == 404
                answer = await http.post(bad)
                assert answer.status_code == 404 and "doesn" in answer.text
            # An unsubscribe token is not a confirmation token, even though both are ours.
            assert (await http.post(link.replace("/confirm/", "/unsubscribe/"))).status_code == 404
    assert [c.status for c, _ in await stored(db_url)] == ["pending"]


async def test_scanners_fetching_a_link_confirm_nothing(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            link = await sign_up(http, starttls_relay, "lou@example.org")
            for _ in range(3):
                assert (await http.get(link, headers={"User-Agent": "SafeLinks scanner"})).status_code == 200
                assert (await http.head(link)).status_code == 200
    ((contact, events),) = await stored(db_url)
    assert contact.status == "pending" and contact.confirmed_at is None
    assert "confirmation" not in [e.event for e in events]


async def test_expired_link_offers_one_fresh_email(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)

    def short_lived(public_url: str):  # type: ignore[no-untyped-def]
        settings = configure(public_url)
        from dataclasses import replace

        return replace(settings, server=replace(settings.server, token_max_age_days=1 / 86_400))

    async with serve(short_lived) as (url, _):
        async with client(url) as http:
            old = await sign_up(http, starttls_relay, "max@example.org")
            await asyncio.sleep(2.2)
            page = await http.get(old)
            assert page.status_code == 410 and 'action="/confirm/resend"' in page.text
            assert (await http.post(old)).status_code == 410
            token = old.rsplit("/", 1)[1]
            for _ in range(2):  # pressing the button twice sends one email
                resent = await http.post("/confirm/resend", data={"token": token})
                assert resent.status_code == 200 and "Check your inbox" in resent.text
            await wait_for(lambda: len(starttls_relay.messages) == 2, what="the fresh link")
            await asyncio.sleep(0.3)
            assert len(starttls_relay.messages) == 2
            fresh = link_in(starttls_relay.messages[1], "confirm")
            assert fresh != old
            assert (await confirm(http, fresh)).status_code == 200


async def test_a_used_link_is_harmless(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            await http.post(
                "/v1/forms/newsletter/subscribe", json={"email": "ned@example.org", "consent": True}
            )
            await http.post(
                "/v1/forms/newsletter/subscribe", json={"email": "ned@example.org", "consent": True}
            )
            await wait_for(lambda: len(starttls_relay.messages) == 2, what="two confirmation emails")
            first, second = (link_in(m, "confirm") for m in starttls_relay.messages)
            assert first != second
            assert "subscribed" in (await confirm(http, second)).text
            for link in (first, second):
                again = await confirm(http, link)
                assert again.status_code == 200 and "Already confirmed" in again.text
    ((_, ledger),) = await stored(db_url)
    events = [e.event for e in ledger if e.event != "confirmation_email_sent"]
    assert events == ["signup", "signup", "confirmation"]
