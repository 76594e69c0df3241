"""The plugin's forwarding code under php-cli against the real running service and SMTP relay."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from service.hooks import sign
from tests.support.app_server import bound_socket, link_in, wait_for
from tests.support.db import rows
from tests.support.relay import Relay
from tests.wordpress.conftest import (
    HOOK_SECRET,
    confirmations_queued,
    contact_settings,
    run_harness,
    serve_on,
    signup_event,
    wp_settings,
)

META = {"remote_ip": "203.0.113.50", "user_agent": "pytest-browser", "url": "https://wp.example/contact"}


def posted(email: str, name: str = "Ada", consent: object = ("1",)) -> dict[str, Any]:
    data: dict[str, Any] = {
        "your-name": name,
        "your-email": email,
        "your-subject": "Hello",
        "your-message": "A question about your products.",
    }
    if consent is not None:
        data["optin-consent"] = list(consent) if isinstance(consent, tuple) else consent
    return data


def answer(out: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    (request,) = out["requests"]
    return request["code"], json.loads(request["answer"])


def signature_ok(request: dict[str, Any]) -> bool:
    header = request["headers"]["Optin-Signature"]
    timestamp = int(header.removeprefix("t=").split(",")[0])
    return bool(header == sign(HOOK_SECRET, timestamp, request["body"].encode()))


async def test_ticked_checkbox_subscribes_once(
    php: str, tmp_path: Path, starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    state = tmp_path / "wp.json"
    with bound_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with serve_on(sock, contact_settings(db_url, nameserver, starttls_relay, ca_file)(url)):
            submit = {"posted_data": posted("ada@example.org"), "posted_data_hash": "cf7-ada", "meta": META}
            out = await run_harness(php, state, "submit", settings=wp_settings(url), **submit)
            assert answer(out) == (202, {"status": "accepted", "duplicate": False})
            assert out["forwarded"] and out["results"][0]["ok"]
            assert out["cron"] == [] and "optin_pending" not in out["options"]

            mail = (await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the confirmation"))[0]
            assert link_in(mail, "confirm")
            assert "The Contact Letter" in mail["Subject"]
            assert signup_event(db_url) == ("https://wp.example/contact", "pytest-browser")

            # Contact Form 7 forwarding the same submission again (a retry whose answer was lost).
            again = await run_harness(php, state, "submit", **submit)
            assert answer(again) == (202, {"status": "accepted", "duplicate": True})
            assert again["results"][0]["message"] == "the service already had this submission"

            # A later signup's email arriving shows the queue moved past any second one for Ada.
            grace = {"posted_data": posted("grace@example.org", "Grace"), "posted_data_hash": "cf7-grace"}
            assert answer(await run_harness(php, state, "submit", meta=META, **grace))[0] == 202
            await wait_for(lambda: starttls_relay.to("grace@example.org"), what="the second confirmation")
            assert len(starttls_relay.to("ada@example.org")) == 1
            assert confirmations_queued(db_url) == 2


async def test_unticked_spam_and_invalid_are_not_forwarded(
    php: str, tmp_path: Path, starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    state = tmp_path / "wp.json"
    not_forwarded: list[dict[str, Any]] = [
        {"posted_data": posted("u1@example.org", consent=None)},  # box left unticked: not posted
        {"posted_data": posted("u2@example.org", consent=())},  # unticked, as an empty list
        {"posted_data": posted("u3@example.org", consent="")},
        {"posted_data": posted("s1@example.org"), "status": "spam"},
        {"posted_data": posted("s2@example.org"), "status": "spam", "keep_hash": True},
        {"posted_data": posted("v1@example.org"), "status": "validation_failed", "keep_hash": True},
        {"posted_data": posted("v2@example.org"), "status": "aborted", "keep_hash": True},
        # the field forged onto a form without [optin_checkbox]
        {"posted_data": posted("f1@example.org"), "form_tags": ["text*", "email*", "textarea"]},
        {"posted_data": posted("n1@example.org"), "posted_data_hash": ""},
    ]
    with bound_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with serve_on(sock, contact_settings(db_url, nameserver, starttls_relay, ca_file)(url)):
            for number, case in enumerate(not_forwarded):
                scenario = {
                    "posted_data_hash": f"cf7-{number}",
                    "meta": META,
                    "settings": wp_settings(url),
                    **case,
                }
                out = await run_harness(php, state, "submit", **scenario)
                assert out["requests"] == [], case
                assert not out["forwarded"] and out["results"] == [] and out["cron"] == []
                assert "optin_pending" not in out["options"]

            # mail_failed still counts (the visitor did submit); its email is the only one sent.
            sentinel = {"posted_data": posted("ok@example.org"), "posted_data_hash": "cf7-ok", "meta": META}
            out = await run_harness(php, state, "submit", status="mail_failed", **sentinel)
            assert answer(out)[0] == 202
            await wait_for(lambda: starttls_relay.to("ok@example.org"), what="the sentinel confirmation")
            assert [m["To"] for m in starttls_relay.messages] == ["ok@example.org"]
            assert confirmations_queued(db_url) == 1


async def test_service_down_then_the_wp_cron_retry_delivers(
    php: str, tmp_path: Path, starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    state = tmp_path / "wp.json"
    with bound_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        submit = {"posted_data": posted("retry@example.org"), "posted_data_hash": "cf7-retry", "meta": META}
        out = await run_harness(php, state, "submit", settings=wp_settings(url), **submit)
        (request,) = out["requests"]
        assert request["code"] == 0 and "Connection refused" in request["error"]
        assert out["results"][0]["retry"] and out["results"][0]["scheduled"]
        (event,) = out["cron"]
        assert event["hook"] == "optin_retry"
        (pending,) = out["options"]["optin_pending"].values()
        assert pending["submission_id"] == "cf7-retry" and pending["attempts"] == 1
        assert pending["fields"]["your-email"] == "retry@example.org"
        assert "could not be reached" in out["options"]["optin_last_problem"]["message"]
        # Every admin page says so, not only the plugin's own settings page.
        notice = (await run_harness(php, state, "dashboard"))["output"]
        assert "notice-warning" in notice and "1 contact-form signup is waiting to be forwarded" in notice
        assert "Last problem: the service could not be reached" in notice

        # The retry waits for its time: WP-Cron running now does nothing.
        assert (await run_harness(php, state, "cron"))["requests"] == []

        async with serve_on(sock, contact_settings(db_url, nameserver, starttls_relay, ca_file)(url)):
            out = await run_harness(php, state, "cron", advance=3600)
            (request,) = out["requests"]
            assert signature_ok(request)  # signed afresh at retry time
            assert answer(out) == (202, {"status": "accepted", "duplicate": False})
            assert out["cron"] == [] and out["options"]["optin_pending"] == []
            # The retry worked: the problem is over, and no longer shown.
            assert "optin_last_problem" not in out["options"]
            assert (await run_harness(php, state, "dashboard"))["output"] == ""
            assert "Last problem" not in (await run_harness(php, state, "settings_page"))["output"]

            assert (await run_harness(php, state, "cron", advance=86400))["requests"] == []
            await wait_for(lambda: starttls_relay.to("retry@example.org"), what="the retried confirmation")
            sentinel = {"posted_data": posted("after@example.org"), "posted_data_hash": "cf7-after"}
            assert answer(await run_harness(php, state, "submit", meta=META, **sentinel))[0] == 202
            await wait_for(lambda: starttls_relay.to("after@example.org"), what="the sentinel confirmation")
            assert len(starttls_relay.to("retry@example.org")) == 1


async def test_connection_button_reports_in_words(
    php: str, tmp_path: Path, starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    state = tmp_path / "wp.json"
    with bound_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with serve_on(sock, contact_settings(db_url, nameserver, starttls_relay, ca_file)(url)):
            out = await run_harness(php, state, "test_connection", settings=wp_settings(url))
            assert out["redirect"] == "http://wp.test/wp-admin/options-general.php?page=optin&optin-tested=1"
            assert answer(out) == (
                200,
                {
                    "status": "ok",
                    "form": "contact",
                    "message": "the signature is valid and the form accepts submissions",
                },
            )
            page = (await run_harness(php, state, "settings_page"))["output"]
            assert "Connected: the signature is valid and the form accepts submissions." in page

            wrong = wp_settings(url, secret="not-the-right-secret-at-all")
            out = await run_harness(php, state, "test_connection", settings=wrong)
            assert answer(out)[0] == 401
            page = (await run_harness(php, state, "settings_page"))["output"]
            assert "The connection test failed: the service refused the signature" in page

            out = await run_harness(php, state, "test_connection", settings=wp_settings(url, form_id="nope"))
            assert answer(out)[0] == 404
            page = (await run_harness(php, state, "settings_page"))["output"]
            assert "does not know this form" in page
    assert starttls_relay.messages == []


async def test_the_checkbox_label_is_the_recorded_consent(
    php: str, tmp_path: Path, starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    label = "Yes, send me the Contact Letter about twice a month."
    tags = ["text*", "email*", {"type": "optin_checkbox", "values": [label], "labels": [label]}]
    with bound_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with serve_on(sock, contact_settings(db_url, nameserver, starttls_relay, ca_file)(url)):
            submit = {"posted_data": posted("lin@example.org"), "posted_data_hash": "cf7-lin", "meta": META}
            out = await run_harness(
                php, tmp_path / "wp.json", "submit", settings=wp_settings(url), form_tags=tags, **submit
            )
            assert answer(out)[0] == 202
    found = rows(db_url, "SELECT consent_text, detail FROM consent_events WHERE event = 'signup'")
    assert found == [(label, found[0][1])]
    assert f"consent_sha256={hashlib.sha256(label.encode()).hexdigest()}" in found[0][1]
