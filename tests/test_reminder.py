"""One reminder, 48 hours on, to a pending contact who never opened the link: with a clock we move."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage

import httpx

from service.jobs import REMINDER, REMINDER_EMAIL
from service.settings import Settings
from service.tokens import Tokens
from tests.support.app_server import (
    SECRET,
    client,
    code_in,
    confirm,
    link_in,
    relay_settings,
    serve,
    stored,
    wait_for,
)
from tests.support.clock import Clock
from tests.support.db import rows
from tests.support.esp_service import jobs_of
from tests.support.relay import Relay
from tests.test_privacy import admin_settings

HOUR = 3600.0
FORM = "/v1/forms/newsletter"


def reminding(configure: Callable[[str], Settings], **limits: int) -> Callable[[str], Settings]:
    def build(url: str) -> Settings:
        settings = configure(url)
        forms = {
            **settings.forms,
            "newsletter": replace(settings.forms["newsletter"], reminder_after_hours=48),
        }
        return replace(settings, forms=forms, limits=replace(settings.limits, **limits))

    return build


async def subscribe(http: httpx.AsyncClient, email: str) -> str:
    answer = await http.post(f"{FORM}/subscribe", json={"email": email, "consent": True})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["signup"])


def token_of(mail: EmailMessage) -> str:
    return Tokens(SECRET).read_confirmation(link_in(mail, "confirm").rpartition("/")[2], 3600)


def reminder_outcomes(db_url: str) -> list[tuple[str, str | None]]:
    return [(state, note) for state, note, *_ in jobs_of(db_url, REMINDER)]


async def idle(db_url: str) -> None:
    """Every job but the reminders done: moving the clock on then cannot expire a running job's lease."""
    sql = "SELECT count(*) FROM outbox WHERE state = 'pending' AND kind != ?"
    await wait_for(lambda: rows(db_url, sql, (REMINDER,)) == [(0,)], what="the outbox to be idle")


async def settle(db_url: str, count: int = 1) -> list[tuple[str, str | None]]:
    await wait_for(
        lambda: (
            len(reminder_outcomes(db_url)) == count
            and all(state != "pending" for state, _ in reminder_outcomes(db_url))
        ),
        what="the reminder jobs to run",
    )
    return reminder_outcomes(db_url)


async def test_one_reminder_after_48_hours_with_the_same_link_and_code(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    clock = Clock()
    configure = reminding(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure, clock=clock) as (url, _):
        async with client(url) as http:
            handle = await subscribe(http, "ada@example.org")
            [first] = await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the confirmation")
            [(run_at,)] = rows(db_url, "SELECT run_at FROM outbox WHERE kind = ?", (REMINDER,))
            assert abs(run_at - (clock() + 48 * HOUR)) < 60
            await idle(db_url)
            clock.advance(47 * HOUR)
            await asyncio.sleep(0.5)  # several polls of the outbox: nothing is due yet
            assert reminder_outcomes(db_url) == [("pending", None)]
            await idle(db_url)
            clock.advance(1 * HOUR + 1)
            assert await settle(db_url) == [("done", "reminder queued")]
            mails = await wait_for(
                lambda: (
                    len(starttls_relay.to("ada@example.org")) == 2 and starttls_relay.to("ada@example.org")
                )
            )
            reminder = mails[-1]
            await wait_for(
                lambda: [j[0] for j in jobs_of(db_url, REMINDER_EMAIL)] == ["done"], what="the send"
            )
            assert reminder["Subject"] == "Reminder: please confirm your subscription to The Test Letter"
            # The same confirmation (the link is signed afresh, for the same token id).
            assert token_of(reminder) == token_of(first)
            assert code_in(reminder) == code_in(first)
            answer = await http.post(f"{FORM}/code", json={"signup": handle, "code": code_in(reminder)})
            assert answer.status_code == 200
            await idle(db_url)
            clock.advance(48 * HOUR)
            await asyncio.sleep(0.5)
            assert len(starttls_relay.to("ada@example.org")) == 2  # one reminder, ever
    ((contact, events),) = await stored(db_url)
    assert contact.status == "confirmed"
    kinds = [(e.event, e.detail) for e in events if e.event.startswith(("reminder", "confirmation"))]
    assert [k for k, _ in kinds] == [
        "confirmation_email_sent",
        "reminder",
        "reminder_email_sent",
        "confirmation",
    ]
    assert kinds[1][1] == "email=queued" and kinds[2][1] == f"message_id={reminder['Message-ID']}"
    # The reminder spent the address's email budget, like any confirmation email.
    assert rows(db_url, "SELECT count(*) FROM rate_hits WHERE key LIKE 'mail:%'") == [(2,)]


async def test_no_reminder_for_an_opened_link_a_confirmed_or_an_erased_contact(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    clock = Clock()
    configure, key = admin_settings(reminding(relay_settings(db_url, nameserver, starttls_relay, ca_file)))
    async with serve(configure, clock=clock) as (url, _):
        async with client(url) as http:
            for email in ("opened@example.org", "confirmed@example.org", "erased@example.org"):
                await subscribe(http, email)
            await wait_for(lambda: len(starttls_relay.messages) == 3, what="three confirmations")
            await http.get(link_in(starttls_relay.to("opened@example.org")[0], "confirm"))
            await confirm(http, link_in(starttls_relay.to("confirmed@example.org")[0], "confirm"))
            erased = await http.delete(
                "/v1/contacts/erased@example.org", headers={"Authorization": f"Bearer {key}"}
            )
            assert erased.status_code == 200
            await idle(db_url)
            clock.advance(49 * HOUR)
            await wait_for(
                lambda: all(state != "pending" for state, _ in reminder_outcomes(db_url)),
                what="the reminders",
            )
            await asyncio.sleep(0.3)
    assert sorted(reminder_outcomes(db_url)) == [
        ("done", "no reminder: the contact is confirmed"),
        ("done", "no reminder: the link was opened"),
        ("dropped", "contact erased"),  # erasure drops the address's waiting jobs
    ]
    assert len(starttls_relay.messages) == 3 and jobs_of(db_url, REMINDER_EMAIL) == []


async def test_no_reminder_to_someone_who_unsubscribed_before(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    clock = Clock()
    configure = reminding(relay_settings(db_url, nameserver, starttls_relay, ca_file))

    def welcomed(url: str) -> Settings:
        settings = configure(url)
        forms = {**settings.forms, "newsletter": replace(settings.forms["newsletter"], welcome_email=True)}
        return replace(settings, forms=forms)

    async with serve(welcomed, clock=clock) as (url, _):
        async with client(url) as http:
            await subscribe(http, "left@example.org")
            [mail] = await wait_for(lambda: starttls_relay.to("left@example.org"), what="the confirmation")
            await confirm(http, link_in(mail, "confirm"))
            welcome = await wait_for(
                lambda: (
                    len(starttls_relay.to("left@example.org")) == 2 and starttls_relay.to("left@example.org")
                )
            )
            await http.post(link_in(welcome[-1], "unsubscribe"))
            await subscribe(http, "left@example.org")  # someone signs the address up again
            await wait_for(lambda: len(starttls_relay.to("left@example.org")) == 3, what="a new confirmation")
            await idle(db_url)
            clock.advance(49 * HOUR)
            outcomes = await settle(db_url, count=2)
    assert sorted(outcomes) == [
        ("done", "no reminder: this address unsubscribed from the list before"),
        ("done", "no reminder: this confirmation no longer waits"),  # its link confirmed, long ago
    ]
    assert len(starttls_relay.to("left@example.org")) == 3


async def test_a_spent_budget_withholds_the_reminder_and_says_so(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    clock = Clock()
    configure = reminding(
        relay_settings(db_url, nameserver, starttls_relay, ca_file), emails_per_address_month=1
    )
    async with serve(configure, clock=clock) as (url, _):
        async with client(url) as http:
            await subscribe(http, "bo@example.org")
            await wait_for(lambda: starttls_relay.to("bo@example.org"), what="the confirmation")
            await idle(db_url)
            clock.advance(49 * HOUR)
            assert await settle(db_url) == [("done", "no reminder: the address's email budget is spent")]
    ((_contact, events),) = await stored(db_url)
    assert [e.detail for e in events if e.event == "reminder"] == ["email=withheld_by_budget"]
    assert len(starttls_relay.to("bo@example.org")) == 1


async def test_two_instances_send_the_reminder_once(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    clock = Clock()
    configure = reminding(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure, clock=clock) as (first, _), serve(configure, clock=clock):
        async with client(first) as http:
            for i in range(6):
                await subscribe(http, f"r{i}@example.org")
            await wait_for(lambda: len(starttls_relay.messages) == 6, what="the confirmations")
            await idle(db_url)
            clock.advance(48 * HOUR + 1)
            assert await settle(db_url, count=6) == [("done", "reminder queued")] * 6
            await wait_for(lambda: len(starttls_relay.messages) == 12, what="the reminders")
            await asyncio.sleep(0.5)
    assert sorted(m["To"] for m in starttls_relay.messages[6:]) == [f"r{i}@example.org" for i in range(6)]
    assert len(starttls_relay.messages) == 12
