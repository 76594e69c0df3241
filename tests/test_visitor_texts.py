"""What a visitor reads and what the owner keeps: texts per language, the consent recorded in the
language shown, French typography, a typo's answer, both signup times in the export."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
from pathlib import Path

import aiosmtplib
import pytest

from service.mail.catcher import MailCatcher
from tests.support.app_server import SECRET, client, relay_settings, serve, stored, text_of, wait_for
from tests.support.relay import Relay
from tests.test_cli import config_file, optin

TITLES = {"en": "The Test Letter", "fr": "La Lettre de test"}
CONSENTS = {"en": "Yes, email me.", "fr": "Oui, écrivez-moi."}


async def test_texts_in_the_visitors_language_and_the_consent_recorded_as_shown(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(
        db_url, nameserver, starttls_relay, ca_file, title=TITLES, consent_text=CONSENTS
    )
    async with serve(configure) as (url, _settings):
        async with client(url) as http:
            form = (await http.get("/v1/forms/newsletter")).json()
            assert (form["title"], form["consent_text"]) == (TITLES["en"], CONSENTS["en"])
            assert (form["titles"], form["consent_texts"]) == (TITLES, CONSENTS)
            for email, language in (("marie@example.org", "fr"), ("hans@example.org", "de")):
                answer = await http.post(
                    "/v1/forms/newsletter/subscribe",
                    json={"email": email, "consent": True, "language": language},
                )
                assert answer.status_code == 202, answer.text
            french = (
                await wait_for(lambda: starttls_relay.to("marie@example.org"), what="the French email")
            )[0]
            assert french["Subject"] == "Merci de confirmer votre inscription à La Lettre de test"
            lines = text_of(french).splitlines()
            at = lines.index(
                "Confirmer mon inscription\u00a0:"
            )  # French typography, no line break before ":"
            assert lines[at + 1].startswith(f"{url}/confirm/")
            german = (await wait_for(lambda: starttls_relay.to("hans@example.org"), what="the German email"))[
                0
            ]
            assert "The Test Letter" in german["Subject"]  # no German title given: the form's own
    ledger = {contact.email: events for contact, events in await stored(db_url)}
    for email, text in (("marie@example.org", CONSENTS["fr"]), ("hans@example.org", CONSENTS["en"])):
        (signup,) = [e for e in ledger[email] if e.event == "signup"]
        assert signup.consent_text == text
        assert f"consent_sha256={hashlib.sha256(text.encode()).hexdigest()}" in (signup.detail or "")


async def test_a_likely_typo_is_answered_with_the_question_alone(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _settings):
        async with client(url) as http:
            refused = await http.post(
                "/v1/forms/newsletter/subscribe", json={"email": "ada@gmial.com", "consent": True}
            )
            assert refused.status_code == 422
            assert refused.json() == {"error": "Did you mean ada@gmail.com?", "field": "email"}
            for typed in ("ada@gmial.com", "ada@gmailcom"):
                verdict = (await http.post("/v1/verify", json={"email": typed, "form": "newsletter"})).json()
                assert (verdict["decision"], verdict["message"]) == ("reject", "Did you mean ada@gmail.com?")


async def test_export_keeps_the_first_and_the_last_signup(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, tmp_path: Path
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _settings):
        async with client(url) as http:
            for _ in range(2):
                answer = await http.post(
                    "/v1/forms/newsletter/subscribe", json={"email": "rae@example.org", "consent": True}
                )
                assert answer.status_code == 202
                await asyncio.sleep(1.1)  # the export counts in whole seconds
    config = config_file(tmp_path, f'[server]\nsecret_key = "{SECRET}"\ndatabase = "{db_url}"\n')
    target = tmp_path / "contacts.csv"
    code, out = await optin("--config", config, "export", "-o", str(target), env={})
    assert code == 0, out
    (row,) = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert row["first_signup_at"] < row["last_signup_at"]
    assert "signed_up_at" not in row


async def test_the_catcher_says_one_line_per_email(caplog: pytest.LogCaptureFixture) -> None:
    catcher = MailCatcher()
    port = await catcher.start()
    try:
        with caplog.at_level(logging.DEBUG):
            await aiosmtplib.send(
                "Subject: Hello\r\nFrom: a@example.com\r\nTo: b@example.org\r\n\r\nHi.\r\n",
                sender="a@example.com",
                recipients=["b@example.org"],
                hostname="127.0.0.1",
                port=port,
            )
    finally:
        await catcher.stop()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert lines == ["caught mail #1 to b@example.org: Hello"]
