"""The main path, end to end over real HTTP and SMTP: sign up, confirm, land on the list, leave."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage

from service.settings import Settings
from tests.support.app_server import base_config, client, make_settings, serve, wait_for
from tests.support.relay import PASSWORD, USER, Relay
from tests.support.webhook_receiver import Receiver, run_receiver

HOOK_SECRET = "whsec_" + "c2VjcmV0LXdlYmhvb2sta2V5LTEyMzQ1Ng=="


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, path: str) -> str:
    found = re.search(rf"http://127\.0\.0\.1:\d+/{path}/\S+", text_of(message))
    assert found, text_of(message)
    return found.group(0)


def relay_settings(
    db_url: str, nameserver: str, relay: Relay, ca_file: str, hook_url: str, **form: object
) -> Callable[[str], Settings]:
    def configure(url: str) -> Settings:
        config = base_config(
            db_url,
            url,
            nameserver,
            smtp={
                "host": "127.0.0.1",
                "port": relay.port,
                "security": "starttls",
                "username": "env:SMTP_USER",
                "password": "env:SMTP_PASSWORD",
                "sender": "Test News <news@example.com>",
                "tls_ca_file": ca_file,
            },
            connectors={"main-list": {"kind": "webhook", "url": hook_url, "secret": "env:HOOK_SECRET"}},
        )
        config["forms"]["newsletter"].update({"connector": "main-list", "welcome_email": True, **form})
        env = {"SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD, "HOOK_SECRET": HOOK_SECRET}
        return make_settings(config, env)

    return configure


async def test_signup_confirm_list_unsubscribe(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with run_receiver(Receiver(HOOK_SECRET)) as hook:
        async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file, hook.url)) as (
            url,
            _settings,
        ):
            async with client(url) as http:
                answer = await http.post(
                    "/v1/forms/newsletter/subscribe",
                    json={
                        "email": " Ada@Example.ORG ",
                        "first_name": "Ada",
                        "consent": True,
                        "language": "fr",
                    },
                    headers={"User-Agent": "pytest-browser", "Referer": "https://www.example.com/blog"},
                )
                assert answer.status_code == 202, answer.text
                await wait_for(lambda: starttls_relay.messages, what="the confirmation email")
                mail = starttls_relay.messages[0]
                assert mail["To"] == "Ada@example.org"
                assert mail["Subject"] == "Merci de confirmer votre inscription à The Test Letter"
                assert mail["Auto-Submitted"] == "auto-generated"
                assert mail["Message-ID"].endswith("@example.com>") and mail["Date"]
                assert mail.get_body(preferencelist=("html",)) is not None
                assert "Bonjour Ada," in text_of(mail)
                confirm = link_in(mail, "confirm")

                # Mail scanners fetch links: GET and HEAD must not confirm anything.
                page = await http.get(confirm)
                assert page.status_code == 200 and '<form method="post">' in page.text
                assert (await http.head(confirm)).status_code == 200
                assert hook.events == [] and len(starttls_relay.messages) == 1

                done = await http.post(confirm)
                assert done.status_code == 200 and "Vous êtes inscrit" in done.text
                await wait_for(lambda: hook.events, what="the webhook delivery")
                event = hook.events[0]
                assert event["type"] == "contact.confirmed"
                assert event["data"]["email"] == "Ada@example.org"
                assert event["data"]["first_name"] == "Ada"
                assert event["data"]["consent"]["user_agent"] == "pytest-browser"
                assert event["data"]["consent"]["page_url"] == "https://www.example.com/blog"
                assert event["data"]["consent"]["consent_text"] == "Yes, email me."
                assert event["data"]["consent"]["confirmed_at"]

                await wait_for(lambda: len(starttls_relay.messages) == 2, what="the welcome email")
                welcome = starttls_relay.messages[1]
                unsubscribe = link_in(welcome, "unsubscribe")
                assert welcome["List-Unsubscribe"] == f"<{unsubscribe}>"
                assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

                again = await http.post(confirm)
                assert again.status_code == 200 and "Déjà confirmée" in again.text

                # RFC 8058 one-click, as a mailbox provider sends it.
                one_click = await http.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
                assert one_click.status_code == 200
                await wait_for(lambda: len(hook.events) == 2, what="the unsubscribe event")
                assert hook.events[1]["type"] == "contact.unsubscribed"
                assert hook.bad_signatures == 0
                assert len(set(hook.ids)) == 2
