"""`optin preview`: an email exactly as it would be sent, with samples or a real contact's values."""

from __future__ import annotations

import re
from pathlib import Path

from service.mail.preview import render_preview
from service.render import Renderer
from service.tokens import Tokens
from tests.deliverability.test_dkim import SENDER, signing_service
from tests.support.app_server import SECRET, client, serve, sign_up, text_of
from tests.support.relay import Relay
from tests.test_cli import config_file, optin

LINK = re.compile(r"https?://\S+/(confirm|unsubscribe)/\S+")
CODE = re.compile(r"\b\d{3} \d{3}\b")  # the 6-digit code beside the link: a sample in a preview


def preview_config(tmp_path: Path, database: str, key_file: Path | None = None, public_url: str = "") -> str:
    dkim = f'[smtp.dkim]\nselector = "s1"\nprivate_key_file = "{key_file}"\n' if key_file else ""
    server_url = f'public_url = "{public_url}"\n' if public_url else ""
    return config_file(
        tmp_path,
        f'[server]\nsecret_key = "{SECRET}"\ndatabase = "{database}"\n{server_url}'
        f'[smtp]\nsender = "{SENDER}"\n{dkim}'
        '[forms.newsletter]\nlanguage = "fr"\nconsent_text = "Oui"\nwelcome_email = true\n'
        '[forms.newsletter.title]\nfr = "La Lettre"\nen = "The Letter"\n',
    )


async def test_preview_with_samples_shows_subject_headers_text_html_and_variables(
    tmp_path: Path, key_file: Path, sqlite_url: str
) -> None:
    config = preview_config(tmp_path, sqlite_url, key_file)
    html = tmp_path / "confirm.html"
    code, out = await optin("--config", config, "preview", "confirm", "--sample", "--html", str(html), env={})
    assert code == 0, out
    assert "  Subject: Merci de confirmer votre inscription à La Lettre" in out  # the form's language
    assert "  From: Sender OK News <news@sender-ok.com>" in out
    assert "  To: camille.exemple@example.fr" in out
    assert '  List-Id: "La Lettre" <newsletter.sender-ok.com>' in out
    assert "  DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender-ok.com;" in out
    assert "Bonjour Camille," in out and "Confirmer mon inscription\u00a0:" in out
    assert "Sender OK News vous envoie ce message car cette adresse a été saisie" in out
    assert f"The HTML part is in {html}" in out
    page = html.read_text(encoding="utf-8")
    assert (
        page.startswith("<!doctype html>")
        and 'lang="fr"' in page
        and ">Confirmer mon inscription</a>" in page
    )
    for variable in (
        "list_title",
        "first_name",
        "confirm_url",
        "expires_days",
        "sender_name",
        "site",
        "t",
        "lang",
    ):
        assert re.search(rf"^  {variable} +\S", out, re.MULTILINE), f"{variable} is not listed"
    assert "The template lint found nothing to fix." in out

    code, out = await optin(
        "--config", config, "preview", "welcome", "--lang", "en", "--html", str(html), env={}
    )
    assert code == 0, out
    assert "  Subject: Welcome to The Letter" in out
    assert "  List-Unsubscribe-Post: List-Unsubscribe=One-Click" in out
    assert "unsubscribe_url" in out
    code, out = await optin("--config", config, "preview", "alert", "--html", str(html), env={})
    assert code == 0 and "  Subject: [optin] list connector 'main-list' needs attention" in out, out

    code, out = await optin(
        "--config", config, "preview", "confirm", "--contact", "nobody@example.org", env={}
    )
    assert (
        code == 1
        and "no contact with the address nobody@example.org signed up on the form 'newsletter'" in out
    )


async def test_preview_of_a_real_contact_is_what_was_sent_and_its_links_change_nothing(
    tmp_path: Path, sqlite_url: str, nameserver: str, starttls_relay: Relay, ca_file: str, key_file: Path
) -> None:
    relay = starttls_relay
    configure = signing_service(sqlite_url, nameserver, relay, ca_file, key_file)
    async with serve(configure) as (url, settings), client(url) as http:
        answer = await http.post(
            "/v1/forms/newsletter/subscribe",
            json={"email": "marie@example.org", "consent": True, "first_name": "Marie", "language": "fr"},
        )
        assert answer.status_code == 202
        await sign_up(http, relay, "other@example.org")
        sent = next(m for m in relay.messages if m["To"] == "marie@example.org")

        config = preview_config(tmp_path, sqlite_url, key_file, public_url=url)
        html = tmp_path / "p.html"
        args = ("--config", config, "preview", "confirm", "--form", "newsletter", "--lang", "fr")
        code, out = await optin(*args, "--contact", "marie@example.org", "--html", str(html), env={})
        assert code == 0, out
        assert "  To: marie@example.org" in out and "Bonjour Marie," in out
        # The same text as the email that went out, links aside.
        preview = render_preview(
            settings,
            Renderer(settings.server.templates_dir),
            Tokens(SECRET),
            "confirm",
            "newsletter",
            "fr",
            None,
        )
        received = text_of(sent).replace("\r\n", "\n").replace("Marie", "Camille")
        assert "123 456" in preview.body("plain")
        same = [LINK, CODE]
        assert _normal(received, same) == _normal(preview.body("plain"), same)
        assert sent["Subject"] == preview.subject and sent["List-Id"] == preview.message["List-Id"]

        # The preview's links look real and change nothing.
        confirm_link = LINK.search(out)
        assert confirm_link
        page = await http.get(confirm_link.group(0).removeprefix(url))
        assert page.status_code == 404 and "This link doesn" in page.text
        welcome = render_preview(
            settings, Renderer(settings.server.templates_dir), Tokens(SECRET), "welcome", "newsletter", "en"
        )
        unsubscribe = LINK.search(welcome.body("plain"))
        assert unsubscribe
        one_click = await http.post(
            unsubscribe.group(0).removeprefix(url), content=b"List-Unsubscribe=One-Click"
        )
        assert one_click.status_code == 410


def _normal(text: str, patterns: list[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub("·", text)
    return text
