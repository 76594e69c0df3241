"""Confirming with the email's 6-digit code, through the API the widget uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from service.codes import HANDLE_V1, CodeKeys, Handle, Handles, read_code
from service.settings import Settings
from service.tokens import Tokens
from tests.support.app_server import (
    SECRET,
    answer_shape,
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
from tests.support.clock import Clock
from tests.support.db import rows
from tests.support.relay import Relay

FORM = "/v1/forms/newsletter"
DAY = 86_400.0


async def subscribe(http: httpx.AsyncClient, email: str, **headers: str) -> str:
    answer = await http.post(f"{FORM}/subscribe", json={"email": email, "consent": True}, headers=headers)
    assert answer.status_code == 202, answer.text
    handle = answer.json()["signup"]
    assert isinstance(handle, str)
    return handle


async def enter(
    http: httpx.AsyncClient, handle: str, code: str, **headers: str
) -> tuple[int, dict[str, Any]]:
    answer = await http.post(f"{FORM}/code", json={"signup": handle, "code": code}, headers=headers)
    return answer.status_code, answer.json()


async def status_of(http: httpx.AsyncClient, handle: str) -> str:
    answer = await http.post(f"{FORM}/status", json={"signup": handle})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def handle_id(handle: str) -> str:
    """The confirmation a handle names (``s2.<id>.<issued>.<mac>``: the id is readable, and random)."""
    return handle.split(".")[1]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def behind_proxy(configure: Callable[[str], Settings]) -> Callable[[str], Settings]:
    def build(url: str) -> Settings:
        settings = configure(url)
        return replace(settings, server=replace(settings.server, trusted_proxies=("127.0.0.1",)))

    return build


async def test_the_code_confirms_like_the_link(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            handle = await subscribe(http, "ada@example.org")
            assert await status_of(http, handle) == "pending"
            [mail] = await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the email")
            code = code_in(mail)
            html = mail.get_body(preferencelist=("html",))
            assert html is not None and f"{code[:3]} {code[3:]}" in html.get_content()
            # Pasted with its space, as the email shows it.
            assert await enter(http, handle, f"{code[:3]} {code[3:]}") == (
                200,
                {"status": "confirmed", "message": "Thank you: your subscription is confirmed."},
            )
            assert await status_of(http, handle) == "confirmed"
            # Single use: again, it says what is true, and the link now shows "already confirmed".
            assert (await enter(http, handle, code))[1]["status"] == "confirmed"
            page = await confirm(http, link_in(mail, "confirm"))
            assert "Already confirmed" in page.text
    ((contact, events),) = await stored(db_url)
    assert contact.status == "confirmed"
    (confirmation,) = [e for e in events if e.event == "confirmation"]
    assert confirmation.detail == "method=code" and confirmation.ip == "127.0.0.1"
    assert confirmation.user_agent and "python-httpx" in confirmation.user_agent
    outcomes = rows(db_url, "SELECT method, outcome FROM link_events ORDER BY id")
    assert outcomes[:2] == [("code", "confirmed"), ("code", "already_confirmed")]


async def test_five_wrong_codes_then_a_new_email(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            handle = await subscribe(http, "bo@example.org")
            [mail] = await wait_for(lambda: starttls_relay.to("bo@example.org"), what="the email")
            code = code_in(mail)
            answers = [await enter(http, handle, wrong(code)) for _ in range(5)]
            assert [status for status, _ in answers] == [422, 422, 422, 422, 409]
            assert [body.get("tries_left") for _, body in answers] == [4, 3, 2, 1, 0]
            assert answers[0][1]["error"] == "that code is not right; 4 tries left"
            assert answers[-1][1]["status"] == "too_many_attempts"
            # The right code no longer helps: the signup used its tries.
            assert await enter(http, handle, code) == answers[-1]
            # A typo is not a try.
            assert (await enter(http, handle, "12345"))[0] == 422
            # A new email, with a new code, under the handle the answer gives.
            again = await http.post(f"{FORM}/resend", json={"signup": handle})
            assert again.status_code == 202
            fresh = again.json()["signup"]
            mails = await wait_for(
                lambda: len(starttls_relay.to("bo@example.org")) == 2 and starttls_relay.to("bo@example.org")
            )
            new_code = code_in(mails[-1])
            # Asking twice sends one email.
            twice = await http.post(f"{FORM}/resend", json={"signup": handle})
            assert handle_id(twice.json()["signup"]) == handle_id(fresh)
            assert (await enter(http, fresh, new_code))[0] == 200
            assert len(starttls_relay.to("bo@example.org")) == 2
    ((contact, events),) = await stored(db_url)
    assert contact.status == "confirmed"
    assert [e.detail for e in events if e.event == "resend_request"] == ["via=code email=queued"]


async def test_a_code_expires_with_its_link(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    clock = Clock()
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file), clock=clock) as (url, _):
        async with client(url) as http:
            handle = await subscribe(http, "cy@example.org")
            [mail] = await wait_for(lambda: starttls_relay.to("cy@example.org"), what="the email")
            sql = "SELECT count(*) FROM outbox WHERE state = 'pending'"
            await wait_for(lambda: rows(db_url, sql) == [(0,)], what="the email job settled")
            clock.advance(7 * DAY + 60)
            status, body = await enter(http, handle, code_in(mail))
            assert (status, body["status"]) == (410, "expired")
            assert await status_of(http, handle) == "expired"
    ((contact, _events),) = await stored(db_url)
    assert contact.status == "pending"


async def test_codes_are_kept_only_as_keyed_hashes(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            await subscribe(http, "di@example.org")
            [mail] = await wait_for(lambda: starttls_relay.to("di@example.org"), what="the email")
            await wait_for(
                lambda: rows(db_url, "SELECT count(*) FROM outbox WHERE state = 'done'")[0][0] >= 1,
                what="the job settled",
            )
    code = code_in(mail)
    [(token_id, digest)] = rows(db_url, "SELECT token_id, code_hash FROM confirmations")
    assert digest == CodeKeys(SECRET).digest(token_id, code) and code not in digest
    everything = " ".join(
        str(value)
        for table in ("confirmations", "outbox", "consent_events", "contacts", "link_events", "kv")
        for row in rows(db_url, f"SELECT * FROM {table}")
        for value in row
    )
    assert code not in everything and f"{code[:3]} {code[3:]}" not in everything


async def test_a_plain_html_form_email_has_no_code(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            answer = await http.post(f"{FORM}/subscribe", data={"email": "ed@example.org", "consent": "on"})
            assert answer.status_code == 303
            [mail] = await wait_for(lambda: starttls_relay.to("ed@example.org"), what="the email")
    assert "code" not in text_of(mail).lower()
    assert rows(db_url, "SELECT code_hash FROM confirmations") == [(None,)]


async def test_a_handle_tells_a_stranger_nothing(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    """New, pending (email budget spent), confirmed, and forged: the same answers, try after try."""
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)

    def one_email_a_day(url: str) -> Settings:
        settings = configure(url)
        return replace(settings, limits=replace(settings.limits, emails_per_address_day=1))

    async with serve(one_email_a_day) as (url, _):
        async with client(url) as http:
            await subscribe(http, "on@example.org")
            [mail] = await wait_for(lambda: starttls_relay.to("on@example.org"), what="the email")
            await confirm(http, link_in(mail, "confirm"))
            await subscribe(http, "waiting@example.org")
            answers = {
                "new": await http.post(
                    f"{FORM}/subscribe", json={"email": "new@example.org", "consent": True}
                ),
                "pending": await http.post(
                    f"{FORM}/subscribe", json={"email": "waiting@example.org", "consent": True}
                ),
                "confirmed": await http.post(
                    f"{FORM}/subscribe", json={"email": "on@example.org", "consent": True}
                ),
            }
            assert len({repr(answer_shape(a)) for a in answers.values()}) == 1
            handles = {name: a.json()["signup"] for name, a in answers.items()}
            real = handles["new"]
            handles["forged"] = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
            trials: dict[str, tuple[list[tuple[int, dict[str, Any]]], str]] = {}
            for name, handle in handles.items():
                tries = [await enter(http, handle, "000000") for _ in range(6)]
                trials[name] = (tries, await status_of(http, handle))
            assert len({repr(t) for t in trials.values()}) == 1, trials
            resent = [
                await http.post(f"{FORM}/resend", json={"signup": handles[n]})
                for n in ("new", "pending", "confirmed")
            ]
            assert len({repr(answer_shape(a)) for a in resent}) == 1


async def test_guessing_across_signups_is_limited_per_ip_on_every_instance(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = behind_proxy(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    guesser = {"X-Forwarded-For": "203.0.113.66"}
    async with serve(configure) as (first, _), serve(configure) as (second, _):
        async with client(first) as one, client(second) as two:
            handles = [await subscribe(one, f"v{i}@example.org", **guesser) for i in range(8)]
            statuses: list[int] = []
            for handle in handles:
                for _ in range(4):
                    http = one if len(statuses) % 2 else two  # the counters are in the database
                    status, _body = await enter(http, handle, "424242", **guesser)
                    statuses.append(status)
                if 429 in statuses:
                    break
            assert statuses.count(422) == 30 and statuses[-1] == 429, statuses
            refused = await two.post(
                f"{FORM}/code", json={"signup": handles[-1], "code": "424242"}, headers=guesser
            )
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
            # Another visitor is not held up.
            other = await subscribe(one, "someone@example.org", **{"X-Forwarded-For": "198.51.100.4"})
            assert (await enter(one, other, "424242", **{"X-Forwarded-For": "198.51.100.4"}))[0] == 422


def test_codes_are_read_as_people_type_them() -> None:
    assert read_code("123456") == "123456"
    assert read_code(" 123 456 ") == "123456"
    assert read_code("123-456") == "123456"
    assert read_code("１２３４５６") == "123456"
    assert read_code(42) == "000042"
    for bad in ("12345", "1234567", "12a456", "", None, ["123456"], True):
        assert read_code(bad) is None


def test_a_sealed_code_is_a_one_time_pad() -> None:
    keys = CodeKeys(SECRET)
    assert keys.unseal("t1", keys.seal("t1", "012345")) == "012345"
    assert {keys.seal(f"t{i}", "000000") for i in range(50)} != {"000000"}
    assert CodeKeys("another-secret-0123456789").seal("t1", "012345") != keys.seal("t1", "012345")


def test_a_handle_is_ours_names_one_signup_on_one_form_and_says_when() -> None:
    handles = Handles(SECRET, Tokens(SECRET))
    handle = handles.issue("Zx9_token-id", "newsletter", 1_764_500_000.7)
    assert handles.read(handle, "newsletter") == Handle("Zx9_token-id", "newsletter", 1_764_500_000.0)
    assert handles.read(handle, "other-form") is None  # bound to the form it was issued for
    _, token_id, issued, mac = handle.split(".")
    forged = {
        "another signup": f"s2.{token_id[:-1]}Y.{issued}.{mac}",
        "made younger": f"s2.{token_id}.{int(issued) + 86_400}.{mac}",
        "another MAC": f"s2.{token_id}.{issued}.{mac[:-2]}AA",
        "no MAC": f"s2.{token_id}.{issued}.",
        "another secret": Handles("another-secret-0123456789", Tokens(SECRET)).issue(
            "Zx9_token-id", "newsletter", 1_764_500_000.7
        ),
        "junk": "s2." + "A" * 300,
    }
    for name, bad in forged.items():
        assert handles.read(bad, "newsletter") is None, name
    for bad_type in (None, 42, ["s2"], "", "x" * 401):
        assert handles.read(bad_type, "newsletter") is None


def test_a_handle_signed_before_the_compact_format_still_reads() -> None:
    tokens = Tokens(SECRET)
    old = tokens.sign(HANDLE_V1, {"t": "old-id", "f": "newsletter", "at": 1_764_000_000.5})
    handles = Handles(SECRET, tokens)
    assert handles.read(old, "newsletter") == Handle("old-id", "newsletter", 1_764_000_000.5)
    assert handles.read(old, "other-form") is None
    assert handles.read(old[:-2] + "xx", "newsletter") is None
