"""POST /v1/hooks/{form}: signed submissions from contact-form plugins, over real HTTP."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace

from service.hooks import sign
from service.settings import Settings
from tests.support.app_server import client, relay_settings, serve, stored, text_of, wait_for
from tests.support.relay import Relay

SECRET = "cf7-hook-secret-0123456789"
URL_TOKEN = "u" * 12 + "0123456789ab"


def with_hook(db_url: str, nameserver: str, relay: Relay, ca_file: str) -> Callable[[str], Settings]:
    hook = {
        "secret": SECRET,
        "email_field": "your-email",
        "first_name_field": "your-name",
        "consent_field": "optin-consent",
        "submission_id_field": "hash",
        "url_token": URL_TOKEN,
    }
    return relay_settings(db_url, nameserver, relay, ca_file, hook=hook)


def envelope(
    email: str, consent: tuple[str, ...] = ("1",), submission_id: str = "hash-1", name: str = "Zoé"
) -> bytes:
    fields = {"your-email": email, "your-name": name, "optin-consent": list(consent) if consent else []}
    meta = {"ip": "203.0.113.7", "user_agent": "Firefox/140", "page_url": "https://www.example.com/contact"}
    return json.dumps({"submission_id": submission_id, "fields": fields, "meta": meta}).encode()


def signed(body: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    return {"Optin-Signature": sign(secret, int(at or time.time()), body), "Content-Type": "application/json"}


async def test_signed_submission_is_accepted_once(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(with_hook(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            body = envelope("zoe@example.org")
            first = await http.post("/v1/hooks/newsletter", content=body, headers=signed(body))
            assert first.status_code == 202 and first.json() == {"status": "accepted", "duplicate": False}
            # The plugin retries (WP-Cron) with a fresh signature: same submission, one email.
            later = await http.post(
                "/v1/hooks/newsletter", content=body, headers=signed(body, time.time() + 1)
            )
            assert later.status_code == 202 and later.json()["duplicate"] is True
            await wait_for(lambda: starttls_relay.messages, what="the confirmation")
            await http.get("/healthz")
            assert len(starttls_relay.messages) == 1
            assert text_of(starttls_relay.messages[0]).startswith("Hello Zoé,")

            contact = (await stored(db_url))[0]
            assert contact[0].first_name == "Zoé"
            signup = contact[1][0]
            assert (signup.ip, signup.user_agent, signup.page_url) == (
                "203.0.113.7",
                "Firefox/140",
                "https://www.example.com/contact",
            )
            assert signup.detail is not None and "via=hook" in signup.detail

            ping = json.dumps({"type": "ping"}).encode()
            answer = await http.post("/v1/hooks/newsletter", content=ping, headers=signed(ping))
            assert answer.status_code == 200 and "signature is valid" in answer.json()["message"]


async def test_bad_signatures_replays_and_missing_fields_say_what_is_wrong(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(with_hook(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            body = envelope("amy@example.org")
            post = "/v1/hooks/newsletter"
            cases = [
                (await http.post(post, content=body), 401, "header is missing"),
                (
                    await http.post(post, content=body, headers=signed(body, secret="wrong-secret-123456")),
                    401,
                    "does not match",
                ),
                (
                    await http.post(post, content=body, headers=signed(body, time.time() - 3600)),
                    401,
                    "away from our clock",
                ),
                (
                    await http.post(post, content=body, headers={"Optin-Signature": "sha256=abc"}),
                    401,
                    "must look like",
                ),
                (
                    await http.post(post, content=b"{}", headers=signed(body)),
                    401,
                    "does not match",
                ),  # body swapped
                (
                    await http.post("/v1/hooks/nope", content=body, headers=signed(body)),
                    404,
                    "does not accept",
                ),
            ]
            unticked = envelope("amy@example.org", consent=(), submission_id="h2")
            cases.append(
                (await http.post(post, content=unticked, headers=signed(unticked)), 422, "not ticked")
            )
            no_email = envelope("", submission_id="h3")
            cases.append(
                (
                    await http.post(post, content=no_email, headers=signed(no_email)),
                    422,
                    "'your-email' is missing",
                )
            )
            bad_email = envelope("amy@@example.org", submission_id="h4")
            cases.append((await http.post(post, content=bad_email, headers=signed(bad_email)), 422, "@"))
            headers = signed(body)
            assert (await http.post(post, content=body, headers=headers)).status_code == 202
            cases.append((await http.post(post, content=body, headers=headers), 409, "replay"))
            for response, status, words in cases:
                assert response.status_code == status, response.text
                assert words in response.json()["error"], response.json()
            await wait_for(lambda: starttls_relay.messages, what="the one valid submission's email")
            assert [m["To"] for m in starttls_relay.messages] == ["amy@example.org"]


async def test_flat_form_body_and_secret_url_for_senders_that_cannot_sign(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(with_hook(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            flat = {"your-email": "flo@example.org", "your-name": "Flo", "optin-consent": "yes", "hash": "z1"}
            ok = await http.post(f"/v1/hooks/newsletter/{URL_TOKEN}", data=flat)
            assert ok.status_code == 202
            again = await http.post(f"/v1/hooks/newsletter/{URL_TOKEN}", data=flat)
            assert again.json()["duplicate"] is True
            wrong = await http.post(f"/v1/hooks/newsletter/{URL_TOKEN[:-1]}x", data=flat)
            assert wrong.status_code == 401
            await wait_for(lambda: starttls_relay.messages, what="the flat submission's email")
            assert [m["To"] for m in starttls_relay.messages] == ["flo@example.org"]


async def test_the_consent_text_the_visitor_saw_is_recorded_with_its_sha256(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    label = "Subscribe me to the   newsletter\n(monthly)"
    shown = "Subscribe me to the newsletter (monthly)"
    configure = with_hook(db_url, nameserver, starttls_relay, ca_file)

    def with_text_field(url: str) -> Settings:
        settings = configure(url)
        form = settings.forms["newsletter"]
        assert form.hook is not None
        hook = replace(form.hook, consent_text_field="consent-label")
        return replace(settings, forms={**settings.forms, "newsletter": replace(form, hook=hook)})

    async with serve(with_text_field) as (url, _):
        async with client(url) as http:
            plugin = json.loads(envelope("ada@example.org"))
            plugin["meta"]["consent_text"] = label
            body = json.dumps(plugin).encode()
            answer = await http.post("/v1/hooks/newsletter", content=body, headers=signed(body))
            assert answer.status_code == 202
            flat = json.dumps(
                {"your-email": "bo@example.org", "optin-consent": "yes", "consent-label": "Send me news"}
            ).encode()
            answer = await http.post("/v1/hooks/newsletter", content=flat, headers=signed(flat))
            assert answer.status_code == 202
    signups = {c.email: next(e for e in events if e.event == "signup") for c, events in await stored(db_url)}
    for email, text in (("ada@example.org", shown), ("bo@example.org", "Send me news")):
        assert signups[email].consent_text == text
        assert f"consent_sha256={hashlib.sha256(text.encode()).hexdigest()}" in str(signups[email].detail)


async def test_what_a_plugin_says_of_the_visitor_is_kept_only_as_what_it_can_be(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    # meta.ip is evidence and the per-address limit's key: text that is no IP address is not
    # kept (the sender's address stands in). Control characters in the page URL, the user agent
    # or the consent text are shown as U+FFFD: a NUL there failed the signup on PostgreSQL.
    async with serve(with_hook(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            fields = {"your-email": "zoe@example.org", "your-name": "Zoé", "optin-consent": ["1"]}
            meta = {
                "ip": "not-an-ip\u0000",
                "user_agent": "Firefox\u0000/140",
                "page_url": "https://www.example.com/c\u0000ontact",
                "consent_text": "Yes\u0000, email me",
            }
            body = json.dumps({"submission_id": "odd-1", "fields": fields, "meta": meta}).encode()
            answer = await http.post("/v1/hooks/newsletter", content=body, headers=signed(body))
            assert answer.status_code == 202, answer.text
    [(_, events)] = await stored(db_url)
    signup = events[0]
    assert signup.ip == "127.0.0.1"
    assert signup.user_agent == "Firefox\ufffd/140"
    assert signup.page_url == "https://www.example.com/c\ufffdontact"
    kept = signup.consent_text  # the hook's own cleaning runs first: a space where the NUL was
    assert kept is not None and kept.startswith("Yes") and "\u0000" not in kept
    assert signup.detail is not None and hashlib.sha256(kept.encode()).hexdigest() in signup.detail
