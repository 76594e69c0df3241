"""The main path, end to end over real HTTP and SMTP: sign up, confirm, land on the list, leave."""

from __future__ import annotations

from tests.support.app_server import (
    HOOK_SECRET,
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    text_of,
    wait_for,
)
from tests.support.relay import Relay
from tests.support.webhook_receiver import Receiver, run_receiver


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
                link = link_in(mail, "confirm")

                # Mail scanners fetch links: GET and HEAD must not confirm anything.
                page = await http.get(link)
                assert page.status_code == 200 and '<form method="post">' in page.text
                assert (await http.head(link)).status_code == 200
                assert hook.events == [] and len(starttls_relay.messages) == 1

                done = await confirm(http, link)
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

                again = await confirm(http, link)
                assert again.status_code == 200 and "Déjà confirmée" in again.text

                # The link in the email shows a page with a button; opening it changes nothing.
                page = await http.get(unsubscribe)
                assert page.status_code == 200 and "Se désinscrire" in page.text
                assert len(hook.events) == 1

                # RFC 8058 one-click, as a mailbox provider sends it.
                one_click = await http.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
                assert one_click.status_code == 200
                await wait_for(lambda: len(hook.events) == 2, what="the unsubscribe event")
                again = await http.get(unsubscribe)
                assert "Vous êtes désinscrit" in again.text
                assert hook.events[1]["type"] == "contact.unsubscribed"
                assert hook.bad_signatures == 0
                assert len(set(hook.ids)) == 2
