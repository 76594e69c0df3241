"""Signup → confirm → ESP through the real service, over HTTP and SMTP on loopback.

The fake Mailchimp runs in the test process; the service runs the outbox worker that batches,
retries, pauses on rate limits, dead-letters and alerts the owner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.connectors.mailchimp import subscriber_hash
from tests.support.app_server import client, serve, text_of, wait_for
from tests.support.esp_service import (
    OWNER,
    TimedMailchimp,
    esp_settings,
    jobs_of,
    mailchimp_table,
    settled,
    sign_up_and_confirm,
)
from tests.support.relay import Relay

UPSERT = "connector_upsert"


@pytest.fixture
async def fake() -> AsyncIterator[TimedMailchimp]:
    esp = TimedMailchimp()
    await esp.start()
    try:
        yield esp
    finally:
        await esp.stop()


@pytest.mark.parametrize("policy", ["add_update", "add_only", "update_only"])
async def test_import_policies_end_to_end(
    policy: str, fake: TimedMailchimp, starttls_relay: Relay, ca_file: str, nameserver: str, db_url: str
) -> None:
    fake.add("old@example.org", FNAME="Old")
    fake.add("gone@example.org", status="unsubscribed", FNAME="Gone")
    table = mailchimp_table(fake, policy=policy)
    people = ["new@example.org", "old@example.org", "gone@example.org"]
    async with serve(esp_settings(db_url, nameserver, starttls_relay, ca_file, table)) as (url, _):
        async with client(url) as http:
            await sign_up_and_confirm(http, starttls_relay, people)
        await wait_for(lambda: settled(db_url, UPSERT, 3), timeout=30, what="the list updates")

    assert [state for state, *_ in jobs_of(db_url, UPSERT)] == ["done"] * 3
    new, old, gone = (fake.member(p) for p in people)
    if policy == "update_only":
        assert new is None
    else:
        assert new is not None and new["status"] == "subscribed" and new["merge_fields"]["FNAME"] == "Fresh"
    assert old is not None and old["status"] == "subscribed"
    assert old["merge_fields"]["FNAME"] == ("Old" if policy == "add_only" else "Fresh")
    # Someone who unsubscribed at the ESP stays unsubscribed, whatever the policy.
    assert gone is not None and gone["status"] == "unsubscribed"
    assert all(fake.member_count(p) <= 1 for p in people)


async def test_a_429_pauses_the_connector_until_its_reset_then_a_batch_drains_it(
    fake: TimedMailchimp, starttls_relay: Relay, ca_file: str, nameserver: str, db_url: str
) -> None:
    """The first upsert is throttled: every other upsert waits for Retry-After, then they go together."""
    people = [f"reader{i}@example.org" for i in range(12)]
    fake.add(people[5], status="unsubscribed")
    fake.fail_next(429, headers={"Retry-After": "2"})
    async with serve(esp_settings(db_url, nameserver, starttls_relay, ca_file, mailchimp_table(fake))) as (
        url,
        _,
    ):
        async with client(url) as http:
            await sign_up_and_confirm(http, starttls_relay, people)
        await wait_for(lambda: settled(db_url, UPSERT, len(people)), timeout=30, what="the list updates")

    throttled_at = fake.arrivals[0][0]
    later = [at for at, *_ in fake.arrivals[1:]]
    # Retry-After honoured by the throttled job and by every other job of the connector.
    assert later and min(later) >= throttled_at + 2.0
    assert [state for state, *_ in jobs_of(db_url, UPSERT)] == ["done"] * len(people)
    # They were due together: the batch endpoint took them in one call, each still done once.
    batches = fake.batch_calls()
    assert batches and max(len(b["members"]) for b in batches) >= 2
    assert all(fake.member_count(p) == 1 for p in people)
    assert fake.member(people[5])["status"] == "unsubscribed"  # type: ignore[index]
    notes = [note or "" for _, note, *_ in jobs_of(db_url, UPSERT)]
    assert any("in a batch" in n for n in notes)


async def test_transient_errors_are_retried_and_the_status_tells(
    fake: TimedMailchimp, starttls_relay: Relay, ca_file: str, nameserver: str, db_url: str
) -> None:
    fake.fail_next(503, times=2, headers={"Retry-After": "1"})
    async with serve(esp_settings(db_url, nameserver, starttls_relay, ca_file, mailchimp_table(fake))) as (
        url,
        _,
    ):
        async with client(url) as http:
            await sign_up_and_confirm(http, starttls_relay, ["slow@example.org"])
            await wait_for(lambda: settled(db_url, UPSERT, 1), timeout=30, what="the list update")
            health = (await http.get("/healthz")).json()
    [(state, note, _, attempts)] = jobs_of(db_url, UPSERT)
    assert state == "done" and attempts == 3 and "subscribed" in (note or "")
    assert fake.member("slow@example.org") is not None
    assert health["status"] == "ok"


async def test_dead_letters_keep_the_esp_message_and_the_owner_gets_one_alert_an_hour(
    fake: TimedMailchimp, starttls_relay: Relay, ca_file: str, nameserver: str, db_url: str
) -> None:
    # A merge field the audience does not have: Mailchimp refuses it, a retry cannot help.
    table = mailchimp_table(fake, fields={"first_name": "<b>NICK</b>"})
    configure = esp_settings(db_url, nameserver, starttls_relay, ca_file, table)
    async with serve(configure) as (url, _), client(url) as http:
        await sign_up_and_confirm(http, starttls_relay, ["a@example.org", "b@example.org"])
        await wait_for(lambda: settled(db_url, UPSERT, 2), timeout=30, what="the dead letters")
        await wait_for(lambda: starttls_relay.to(OWNER), timeout=30, what="the alert email")

    for state, error, *_ in jobs_of(db_url, UPSERT):
        assert state == "dead"
        assert "Mailchimp answered 400" in (error or "")
        assert "<b>NICK</b> is not a merge field" in (error or "")  # the ESP's own words
    [alert] = starttls_relay.to(OWNER)
    assert "'esp'" in str(alert["Subject"])
    assert "<b>NICK</b> is not a merge field" in text_of(alert)
    html = alert.get_body(preferencelist=("html",))
    assert html is not None
    assert "&lt;b&gt;NICK&lt;/b&gt;" in str(html.get_content()) and "<b>NICK" not in str(html.get_content())
    assert [state for state, *_ in jobs_of(db_url, "alert_email")] == ["done"]

    # More dead letters within the hour, after a restart: still one alert.
    async with serve(configure) as (url, _), client(url) as http:
        await sign_up_and_confirm(http, starttls_relay, ["c@example.org"])
        await wait_for(lambda: settled(db_url, UPSERT, 3), timeout=30, what="the third dead letter")
        await wait_for(lambda: settled(db_url, "alert_email", 1), timeout=30, what="the outbox to settle")
    assert len(starttls_relay.to(OWNER)) == 1
    assert fake.member("a@example.org") is None and subscriber_hash("a@example.org") not in fake.members


async def test_each_contact_of_a_batch_gets_its_own_outcome(
    fake: TimedMailchimp, starttls_relay: Relay, ca_file: str, nameserver: str, db_url: str
) -> None:
    """In one backlog: a contact the ESP refuses is dead-lettered with its message, one whose
    update hit a 503 is retried alone, the others are done."""
    table = mailchimp_table(fake, fields={"first_name": "NICK"})  # NICK is not a merge field
    fake.add("old@example.org")
    fake.fail_next(429, headers={"Retry-After": "2"})  # holds everything back: one backlog
    fake.fail_next(503, path_contains="/members/")  # then one member update fails, transiently
    people = ["named@example.org", "plain@example.org", "old@example.org", "other@example.org"]
    unnamed = ("plain@example.org", "old@example.org", "other@example.org")
    async with serve(esp_settings(db_url, nameserver, starttls_relay, ca_file, table)) as (url, _):
        async with client(url) as http:
            await sign_up_and_confirm(http, starttls_relay, people, unnamed=unnamed)
        await wait_for(lambda: settled(db_url, UPSERT, 4), timeout=30, what="the list updates")

    outcome = dict(zip(people, jobs_of(db_url, UPSERT), strict=True))
    state, error, _, _ = outcome["named@example.org"]
    assert state == "dead" and "NICK is not a merge field" in (error or "")
    assert fake.member("named@example.org") is None
    for email in unnamed:
        assert outcome[email][0] == "done" and fake.member_count(email) == 1
    assert outcome["old@example.org"][3] >= 2  # its own retry, after the 503
    assert fake.batch_calls()
