"""A confirmed contact who signs up again and ticks more lists: the new lists are theirs once the
inbox confirms them, by link or by code; the answer is the same as for anyone, and a stranger who
types their address adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.connectors import specs
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.support.app_server import (
    client,
    code_in,
    confirm,
    link_in,
    relay_settings,
    serve,
    stored,
    text_of,
    wait_for,
)
from tests.support.db import rows
from tests.support.relay import Relay

FORM = "/v1/forms/newsletter"
LISTS: dict[str, Any] = {
    "news": {"interest": "int-news", "label": {"en": "Monthly news", "fr": "Actualités"}},
    "events": {"interest": "int-events", "label": {"en": "Event invitations", "fr": "Invitations"}},
    "offers": {"tag": "offers", "label": {"en": "Special offers", "fr": "Offres"}},
}


@pytest.fixture
async def mailchimp() -> AsyncIterator[FakeMailchimp]:
    fake = FakeMailchimp()
    fake.lists[fake.list_id].interests |= {"int-news", "int-events"}
    fake.checker = specs.checker(specs.contract("Mailchimp"))
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == [], fake.violations


def _settings(db_url: str, nameserver: str, relay: Relay, ca_file: str, fake: FakeMailchimp) -> Any:
    esp = {"kind": "mailchimp", "api_key": fake.api_key, "list_id": fake.list_id, "base_url": fake.base_url}
    return relay_settings(
        db_url, nameserver, relay, ca_file, connectors={"esp": esp}, connector="esp", lists=LISTS
    )


def _member(fake: FakeMailchimp, email: str) -> dict[str, Any]:
    return fake.member(email) or {"interests": {}, "tags": []}


async def _subscribe(http: httpx.AsyncClient, email: str, lists: list[str], **extra: Any) -> httpx.Response:
    answer = await http.post(
        f"{FORM}/subscribe", json={"email": email, "consent": True, "lists": lists, **extra}
    )
    assert answer.status_code == 202, answer.text
    return answer


async def test_a_confirmed_contact_adds_a_list_by_confirming_it_and_nothing_before(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, mailchimp: FakeMailchimp
) -> None:
    async with serve(_settings(db_url, nameserver, starttls_relay, ca_file, mailchimp)) as (url, _):
        async with client(url) as http:
            await _subscribe(http, "ada@example.org", ["news"])
            [first] = await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the first email")
            assert (await confirm(http, link_in(first, "confirm"))).status_code == 200
            await wait_for(lambda: mailchimp.member("ada@example.org"), what="the member")

            # Again, ticking one more list: answered exactly like a stranger's first signup.
            again = await _subscribe(http, "ada@example.org", ["news", "events"])
            stranger = await _subscribe(http, "bob@example.org", ["news", "events"])
            assert again.json().keys() == stranger.json().keys() == {"status", "message", "signup"}
            assert again.json()["message"] == stranger.json()["message"]
            mails = await wait_for(lambda: starttls_relay.to("ada@example.org")[1:], what="the list email")
            [adding] = mails
            assert adding["Subject"] == "Please confirm your subscription to Event invitations"
            assert "asked to receive Event invitations at this address" in text_of(adding)

            # Until the inbox confirms, nothing changes: typing someone's address adds nothing.
            [(lists,)] = rows(db_url, "SELECT lists FROM contacts WHERE email = 'ada@example.org'")
            assert lists == '["news"]'
            assert _member(mailchimp, "ada@example.org")["interests"] == {"int-news": True}

            link = link_in(adding, "confirm")
            page = await http.get(link)
            assert "Press the button to confirm that you want to receive Event invitations." in page.text
            done = await confirm(http, link)
            assert done.status_code == 200
            assert "Thank you: your subscription to Event invitations is confirmed." in done.text
            await wait_for(
                lambda: (
                    _member(mailchimp, "ada@example.org")["interests"]
                    == {"int-news": True, "int-events": True}
                ),
                what="the new interest at Mailchimp",
            )
            assert "already confirmed" in (await confirm(http, link)).text.lower()  # once only

            # Ticking lists they are on already sends nothing.
            await _subscribe(http, "ada@example.org", ["events"])
            await wait_for(lambda: starttls_relay.to("bob@example.org"), what="the stranger's email")
    assert len(starttls_relay.to("ada@example.org")) == 2  # the first signup's, and the list's

    [ada] = [(c, e) for c, e in await stored(db_url) if c.email == "ada@example.org"]
    contact, events = ada
    assert contact.status == "confirmed" and contact.lists == ("news", "events")
    consents = [e.consent_text for e in events if e.event == "list_consent"]
    assert consents == ["Monthly news", "Event invitations"]  # each list's label, when it was ticked
    confirmations = [e.detail for e in events if e.event == "confirmation"]
    assert confirmations == ["method=link", "method=link adds=events"]
    assert [e.event for e in events].count("welcome_email_sent") <= 1


async def test_the_code_confirms_added_lists_too_and_an_unconfirmed_addition_changes_nothing(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, mailchimp: FakeMailchimp
) -> None:
    async with serve(_settings(db_url, nameserver, starttls_relay, ca_file, mailchimp)) as (url, _):
        async with client(url) as http:
            await _subscribe(http, "cy@example.org", ["news"])
            [first] = await wait_for(lambda: starttls_relay.to("cy@example.org"), what="the first email")
            await confirm(http, link_in(first, "confirm"))
            await wait_for(lambda: mailchimp.member("cy@example.org"), what="the member")

            await _subscribe(http, "cy@example.org", ["events"])
            await wait_for(lambda: starttls_relay.to("cy@example.org")[1:], what="the events email")
            answer = await _subscribe(http, "cy@example.org", ["offers"])
            mails = await wait_for(lambda: starttls_relay.to("cy@example.org")[2:], what="the offers email")
            assert "Special offers" in str(mails[0]["Subject"])
            confirmed = await http.post(
                f"{FORM}/code", json={"signup": answer.json()["signup"], "code": code_in(mails[0])}
            )
            assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
            await wait_for(lambda: "offers" in _member(mailchimp, "cy@example.org")["tags"], what="the tag")
    [(lists,)] = rows(db_url, "SELECT lists FROM contacts WHERE email = 'cy@example.org'")
    assert lists == '["news", "offers"]'  # events was never confirmed
    assert _member(mailchimp, "cy@example.org")["interests"] == {"int-news": True}


async def test_a_new_email_for_an_addition_still_adds_those_lists_and_nothing_once_they_left(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, mailchimp: FakeMailchimp
) -> None:
    async with serve(_settings(db_url, nameserver, starttls_relay, ca_file, mailchimp)) as (url, _):
        async with client(url) as http:
            await _subscribe(http, "di@example.org", ["news"])
            [first] = await wait_for(lambda: starttls_relay.to("di@example.org"), what="the first email")
            await confirm(http, link_in(first, "confirm"))
            answer = await _subscribe(http, "di@example.org", ["events"])
            await wait_for(lambda: starttls_relay.to("di@example.org")[1:], what="the events email")

            # "Send me a new email": a new code, for the same lists.
            again = await http.post(f"{FORM}/resend", json={"signup": answer.json()["signup"]})
            assert again.status_code == 202
            [fresh] = await wait_for(lambda: starttls_relay.to("di@example.org")[2:], what="the new email")
            assert fresh["Subject"] == "Please confirm your subscription to Event invitations"
            done = await http.post(
                f"{FORM}/code", json={"signup": again.json()["signup"], "code": code_in(fresh)}
            )
            assert done.json()["status"] == "confirmed"
            [(lists,)] = rows(db_url, "SELECT lists FROM contacts WHERE email = 'di@example.org'")
            assert lists == '["news", "events"]'

            # Once added, asking again sends nothing more.
            await http.post(f"{FORM}/resend", json={"signup": again.json()["signup"]})
            await _subscribe(http, "zed@example.org", ["news"])  # an email that must come after
            await wait_for(lambda: starttls_relay.to("zed@example.org"), what="a later email")
    assert len(starttls_relay.to("di@example.org")) == 3


async def test_an_addition_past_the_inbox_budget_sends_nothing_and_adds_nothing(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, mailchimp: FakeMailchimp
) -> None:
    configure = _settings(db_url, nameserver, starttls_relay, ca_file, mailchimp)

    def one_email_a_day(url: str) -> Any:
        settings = configure(url)
        return replace(settings, limits=replace(settings.limits, emails_per_address_day=1))

    async with serve(one_email_a_day) as (url, _):
        async with client(url) as http:
            await _subscribe(http, "eve@example.org", ["news"])
            [first] = await wait_for(lambda: starttls_relay.to("eve@example.org"), what="the first email")
            await confirm(http, link_in(first, "confirm"))
            again = await _subscribe(http, "eve@example.org", ["events"])  # the day's email is spent
            assert again.json()["status"] == "accepted"
            await _subscribe(http, "zed@example.org", ["news"])  # an email that must come after
            await wait_for(lambda: starttls_relay.to("zed@example.org"), what="a later email")
    assert len(starttls_relay.to("eve@example.org")) == 1
    [(lists,)] = rows(db_url, "SELECT lists FROM contacts WHERE email = 'eve@example.org'")
    assert lists == '["news"]'
    [events] = [e for c, e in await stored(db_url) if c.email == "eve@example.org"]
    [repeat] = [e for e in events if e.event == "signup_repeat"]
    assert repeat.detail is not None and repeat.detail.endswith("lists=events email=withheld_by_budget")
