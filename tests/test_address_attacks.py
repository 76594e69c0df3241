"""Issue 11's address-level attacks, each walked end to end: HTTP against the real app, a real
aiosmtpd relay on loopback, and a count of what the victim's inbox receives."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from service import jobs
from service.store import Transaction, open_store
from service.tokens import UNSUBSCRIBE, Tokens
from tests.support.app_server import (
    HOOK_SECRET,
    SECRET,
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    sign_up,
    stored,
    wait_for,
)
from tests.support.relay import Relay, run_relay
from tests.support.webhook_receiver import Receiver, run_receiver
from tests.test_abuse import defended, from_ip
from tests.test_cli import config_file, optin
from tests.test_privacy import admin_settings, export_of

POST = "/v1/forms/newsletter/subscribe"


def rcpts(relay: Relay) -> list[str]:
    return [address for _, addresses in relay.envelopes for address in addresses]


# 1. RFC 2047 encoded words in the local part --------------------------------------------------


ENCODED_SPELLINGS = [
    "=?utf-8?q?victim?=@example.org",
    "=?utf-8?q?victi=6d?=@example.org",
    "=?UTF-8?Q?victim?=@example.org",
    "=?utf-8?b?dmljdGlt?=@example.org",
    "=?iso-8859-1?q?victim?=@example.org",
    "=?utf-8?q?vic?=.=?utf-8?q?tim?=@example.org",
    "vic=?utf-8?q?tim?=@example.org",
    "=?utf-8?q?attacker=40evil.example?=@example.org",
]


async def test_encoded_word_spellings_of_one_victim_are_refused_and_the_inbox_gets_one_email(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(defended(relay_settings(db_url, nameserver, starttls_relay, ca_file))) as (url, _):
        async with client(url) as http:
            first = await http.post(POST, json={"email": "victim@example.org", "consent": True})
            assert first.status_code == 202
            for i, spelling in enumerate(ENCODED_SPELLINGS):
                answer = await http.post(
                    POST, json={"email": spelling, "consent": True}, headers=from_ip(f"198.51.100.{i}")
                )
                assert answer.status_code == 422, (spelling, answer.text)
                assert "encoded" in answer.json()["error"], answer.text
                verdict = await http.post("/v1/verify", json={"email": spelling, "form": "newsletter"})
                assert verdict.json()["decision"] == "reject"
            await wait_for(lambda: starttls_relay.messages, what="the one confirmation")
            await asyncio.sleep(0.5)
    # What the relay was asked to deliver, and what the message says, is the address as typed.
    assert rcpts(starttls_relay) == ["victim@example.org"]
    assert [m["To"] for m in starttls_relay.messages] == ["victim@example.org"]
    assert len(starttls_relay.delivered_to("victim@example.org")) == 1


# 3. An erased contact's old unsubscribe link ---------------------------------------------------


async def test_an_erased_contacts_old_unsubscribe_link_cannot_unsubscribe_the_next_contact(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with run_receiver(Receiver(HOOK_SECRET)) as hook:
        configure, key = admin_settings(relay_settings(db_url, nameserver, starttls_relay, ca_file, hook.url))
        async with serve(configure) as (url, _):
            async with client(url) as http:
                await confirm(http, await sign_up(http, starttls_relay, "alice@example.org"))
                mails = await wait_for(
                    lambda: (
                        len(starttls_relay.to("alice@example.org")) == 2
                        and starttls_relay.to("alice@example.org")
                    ),
                    what="Alice's welcome email",
                )
                alices_link = link_in(mails[-1], "unsubscribe")
                auth = {"Authorization": f"Bearer {key}"}
                erased = await http.delete("/v1/contacts/alice@example.org", headers=auth)
                assert erased.json() == {"status": "erased", "contacts": 1}

                await confirm(http, await sign_up(http, starttls_relay, "bob@example.org"))
                await wait_for(lambda: len(hook.events) == 2, what="Bob on the list")

                page = await http.get(alices_link)
                assert page.status_code == 410 and "no longer valid" in page.text
                assert "The Test Letter" not in page.text  # it tells a stranger nothing
                one_click = await http.post(alices_link, data={"List-Unsubscribe": "One-Click"})
                assert one_click.status_code == 410 and "no longer valid" in one_click.text
                await asyncio.sleep(0.5)
                bob = await export_of(http, key, "bob@example.org")
                assert bob["contacts"][0]["status"] == "confirmed"
                assert [e["type"] for e in hook.events] == ["contact.confirmed", "contact.confirmed"]
                # Bob's own link still works.
                bobs_mails = await wait_for(
                    lambda: (
                        len(starttls_relay.to("bob@example.org")) == 2
                        and starttls_relay.to("bob@example.org")
                    ),
                    what="Bob's welcome email",
                )
                mine = await http.post(link_in(bobs_mails[-1], "unsubscribe"), data={})
                assert mine.status_code == 200 and "unsubscribed" in mine.text.lower()


async def test_links_emailed_before_links_named_their_address_work_only_for_older_contacts(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    """An unsubscribe token in the old format carries only a contact id and its signing time."""
    legacy = Tokens(SECRET)
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, settings):
        async with client(url) as http:
            await confirm(http, await sign_up(http, starttls_relay, "carol@example.org"))
            [(carol, _)] = await stored(settings.server.database)
            await asyncio.sleep(1.1)  # tokens are stamped in whole seconds
            carols_old_link = f"/unsubscribe/{legacy.sign(UNSUBSCRIBE, {'c': carol.id})}"
            # A link for the next id, issued before anyone had that id.
            next_ids_old_link = f"/unsubscribe/{legacy.sign(UNSUBSCRIBE, {'c': carol.id + 1})}"
            await asyncio.sleep(1.1)
            await confirm(http, await sign_up(http, starttls_relay, "dave@example.org"))
            dave = next(c for c, _ in await stored(settings.server.database) if c.email == "dave@example.org")
            assert dave.id == carol.id + 1  # ids are reused or not: the link must hold either way

            refused = await http.post(next_ids_old_link, data={})
            assert refused.status_code == 410 and "no longer valid" in refused.text
            kept = await http.post(carols_old_link, data={})
            assert kept.status_code == 200
    statuses = {c.email: c.status for c, _ in await stored(settings.server.database)}
    assert statuses == {"carol@example.org": "unsubscribed", "dave@example.org": "confirmed"}


# 6. "Send me a new link" and the budget --------------------------------------------------------


async def test_feeding_each_new_link_back_sends_no_more_than_the_budget(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(defended(relay_settings(db_url, nameserver, starttls_relay, ca_file))) as (url, _):
        async with client(url) as http:
            link = await sign_up(http, starttls_relay, "rita@example.org")
            pages = []
            for _ in range(7):
                token = link.rsplit("/", 1)[1]
                pages.append(await http.post("/confirm/resend", data={"token": token}))
                await asyncio.sleep(0.3)
                link = link_in(starttls_relay.messages[-1], "confirm")
            assert {p.status_code for p in pages} == {200}
            assert all("already sent" in p.text for p in pages), pages[0].text
            await asyncio.sleep(0.5)
    assert len(starttls_relay.delivered_to("rita@example.org")) == 1


# 7. Sub-address tags and ignored dots ----------------------------------------------------------


async def test_plus_tags_and_gmail_dots_reach_one_inbox_once(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    spellings = [f"victim+{i}@example.org" for i in range(30)] + [
        "Victim@example.org",
        "VICTIM+x@EXAMPLE.ORG",
        "v.ic.tim@gmail.com",
        "victim@gmail.com",
        "Vic.Tim+news@gmail.com",
        "victim+1@googlemail.com",
    ]
    configure, key = admin_settings(defended(relay_settings(db_url, nameserver, starttls_relay, ca_file)))
    async with serve(configure) as (url, _):
        async with client(url) as http:
            for i, spelling in enumerate(spellings):
                answer = await http.post(
                    POST, json={"email": spelling, "consent": True}, headers=from_ip(f"203.0.{i}.1")
                )
                assert answer.status_code == 202, answer.text
            await wait_for(lambda: len(starttls_relay.messages) == 2, what="one email per mailbox")
            await asyncio.sleep(0.5)
            # The contact keeps the address as typed.
            document = await export_of(http, key, "victim+7@example.org")
            assert document["email"] == "victim+7@example.org" and len(document["contacts"]) == 1
            assert (await export_of(http, key, "Vic.Tim+news@gmail.com"))["contacts"]
    assert rcpts(starttls_relay) == ["victim+0@example.org", "v.ic.tim@gmail.com"]


# 8. IDN domains and Unicode local parts, with and without SMTPUTF8 ------------------------------


@pytest.mark.parametrize("smtputf8", [False, True], ids=["no-smtputf8", "smtputf8"])
async def test_an_idn_domain_is_delivered_whatever_the_relay_offers(
    smtputf8: bool, server_context: object, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with run_relay(Relay(), mode="starttls", server_context=server_context, smtputf8=smtputf8) as relay:  # type: ignore[arg-type]
        async with serve(relay_settings(db_url, nameserver, relay, ca_file)) as (url, _):
            async with client(url) as http:
                answer = await http.post(POST, json={"email": "idn@München.de", "consent": True})
                assert answer.status_code == 202
                await wait_for(lambda: relay.messages, what="the confirmation to an IDN domain")
    expected = "idn@münchen.de" if smtputf8 else "idn@xn--mnchen-3ya.de"
    assert rcpts(relay) == [expected]
    assert relay.messages[0]["To"] == expected
    assert "Please confirm" in relay.messages[0]["Subject"]


async def test_a_unicode_local_part_without_smtputf8_dies_once_with_a_reason_in_outbox(
    server_context: object, ca_file: str, db_url: str, nameserver: str, tmp_path: Path
) -> None:
    config = config_file(tmp_path, f'[server]\nsecret_key = "{SECRET}"\ndatabase = "{db_url}"\n')
    async with run_relay(Relay(), mode="starttls", server_context=server_context) as relay:  # type: ignore[arg-type]
        async with serve(relay_settings(db_url, nameserver, relay, ca_file)) as (url, _):
            async with client(url) as http:
                answer = await http.post(POST, json={"email": "jürgen@example.org", "consent": True})
                assert answer.status_code == 202

                async def dead() -> bool:
                    return bool((await http.get("/healthz")).json()["outbox"]["dead"] == 1)

                await wait_for(dead, what="the job to be dead-lettered")
    assert relay.messages == [] and relay.attempts == 0
    code, out = await optin("--config", config, "outbox", "--state", "dead", env={})
    assert code == 0 and "attempts=1" in out, out
    assert "SMTPUTF8" in out and "jürgen@example.org" not in out, out
    assert "non-ASCII characters before the @" in out, out


async def test_a_unicode_local_part_reaches_a_relay_with_smtputf8(
    server_context: object, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with run_relay(Relay(), mode="starttls", server_context=server_context, smtputf8=True) as relay:  # type: ignore[arg-type]
        async with serve(relay_settings(db_url, nameserver, relay, ca_file)) as (url, _):
            async with client(url) as http:
                answer = await http.post(POST, json={"email": "jürgen@example.org", "consent": True})
                assert answer.status_code == 202
                await wait_for(lambda: relay.messages, what="the confirmation")
    assert rcpts(relay) == ["jürgen@example.org"] and relay.messages[0]["To"] == "jürgen@example.org"


# 10. Odd addresses: admin routes, encoded line breaks, jobs the relay cannot take ---------------

ODD_ADDRESSES = [
    "a/b@example.org",
    "x/export@example.org",
    "50%off@example.org",
    "what?@example.org",
    "hash#tag@example.org",
    "zoë@example.org",
    "a+b&c=d@example.org",
]


async def test_export_and_erasure_work_for_every_accepted_address(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure, key = admin_settings(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    auth = {"Authorization": f"Bearer {key}"}
    async with serve(configure) as (url, _):
        async with client(url) as http:
            for address in ODD_ADDRESSES:
                answer = await http.post(POST, json={"email": address, "consent": True})
                assert answer.status_code == 202, (address, answer.text)
            for address in ODD_ADDRESSES:
                path = f"/v1/contacts/{quote(address, safe='@')}"
                exported = await http.get(f"{path}/export", headers=auth)
                assert exported.status_code == 200, (address, exported.text)
                assert exported.json()["email"] == address and len(exported.json()["contacts"]) == 1
                erased = await http.delete(path, headers=auth)
                assert erased.json() == {"status": "erased", "contacts": 1}, (address, erased.text)
                after = await http.get(f"{path}/export", headers=auth)
                assert after.json()["contacts"] == [] and after.json()["erased_at"]
    assert await stored(db_url) == []


async def test_an_encoded_line_break_in_an_address_never_reaches_a_job(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            for address in (
                "=?utf-8?q?x=0D=0ABcc:_victim@example.net?=@example.org",
                "=?utf-8?b?eA0KQmNjOiB2aWN0aW1AZXhhbXBsZS5uZXQ=?=@example.org",
                "x\u2028y@example.org",
                "x\u0085y@example.org",
            ):
                answer = await http.post(POST, json={"email": address, "consent": True})
                assert answer.status_code == 422, (address, answer.text)
            outbox = (await http.get("/healthz")).json()["outbox"]
    assert sum(outbox.values()) == 0, outbox
    assert await stored(db_url) == []


STORED_BY_AN_OLDER_VERSION = ("=?utf-8?q?a=0D=0Ab?=@example.org", "=?utf-8?q?victim?=@example.org")


async def test_a_stored_address_the_mail_library_cannot_write_fails_once_without_a_traceback(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Contacts an older version accepted: their queued email dies at once, with a reason."""
    store = await open_store(db_url)
    try:

        def seed(tx: Transaction) -> None:
            now = time.time()
            for i, address in enumerate(STORED_BY_AN_OLDER_VERSION):
                contact = tx.insert_contact("newsletter", address, None, None, "en", now)
                tx.add_confirmation(f"token{i}", contact, now)
                tx.enqueue(jobs.confirmation_email(contact, f"token{i}", f"<m{i}@example.com>"), now)

        await store.write(seed)
    finally:
        await store.close()
    caplog.set_level(logging.INFO)
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:

            async def dead() -> bool:
                return bool((await http.get("/healthz")).json()["outbox"]["dead"] == 2)

            await wait_for(dead, what="both jobs to be dead-lettered")
    store = await open_store(db_url)
    try:
        dead_jobs = await store.jobs("dead")
    finally:
        await store.close()
    assert [j.attempts for j in dead_jobs] == [1, 1]
    for job in dead_jobs:
        assert job.last_error and "encoded word" in job.last_error, job.last_error
    assert starttls_relay.messages == [] and starttls_relay.attempts == 0
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
