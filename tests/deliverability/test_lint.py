"""The template lint: our own emails pass it in every language; what filters distrust is found."""

from __future__ import annotations

import logging
import shutil
from email.message import EmailMessage
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.mail.lint import LintContext, lint_message
from service.mail.lint_words import shipped_words, word_lists, words_in
from service.mail.preview import KINDS, render_preview
from service.render import Renderer
from service.settings import LANGUAGES, REPO_ROOT, Settings
from service.tokens import Tokens
from tests.support.app_server import SECRET, base_config, make_settings, serve
from tests.test_cli import config_file, optin


def settings_with(**sections: dict[str, object]) -> Settings:
    config = base_config("sqlite:///:memory:", "https://signup.example.com", "127.0.0.1:9", **sections)
    config["forms"]["newsletter"].update(
        {
            "title": {
                "en": "The Weekly Letter",
                "fr": "La Lettre du lundi",
                "es": "La Carta",
                "de": "Der Brief",
            },
            "language": "fr",
            "welcome_email": True,
            "allowed_origins": ["https://www.example.com"],
        }
    )
    config["smtp"] = {"sender": "Example News <news@example.com>"}
    return make_settings(config)


def test_every_email_in_every_language_passes_the_lint() -> None:
    settings = settings_with()
    renderer, tokens = Renderer(settings.server.templates_dir), Tokens(SECRET)
    rendered = 0
    for kind in KINDS:
        for language in LANGUAGES if kind != "alert" else ("en",):
            preview = render_preview(settings, renderer, tokens, kind, "newsletter", language)
            assert preview.findings == (), f"{kind} in {language}: {[str(f) for f in preview.findings]}"
            rendered += 1
            text, html = preview.body("plain"), preview.body("html")
            assert text.strip() and html.strip()
            if kind == "alert":
                continue
            strings = renderer.strings(language)
            title = settings.forms["newsletter"].title_in(language)
            why_key = "email_confirm_why" if kind == "confirm" else "email_welcome_why"
            why = strings[why_key].format(sender="Example News", list=title, site="www.example.com")
            # Who sent it and why, in the footer of both parts; List-Id names the list.
            page = html.replace("&#39;", "'")
            assert why in text and why in page, f"{kind} {language}"
            assert preview.sent["List-Id"] == f'"{title}" <newsletter.example.com>'
            if kind == "confirm":
                assert strings["confirm_ignore"] in text and strings["confirm_ignore"] in page
                # The call to action comes first, the footer last.
                assert (
                    page.index(strings["confirm_action"])
                    < page.index(why)
                    < page.index(strings["confirm_ignore"])
                )
    assert rendered == 9


def test_risky_words_are_found_per_language_whole_words_only() -> None:
    words = shipped_words()
    for word in (
        "facture",
        "PayPal",
        "Visa",
        "Mastercard",
        "cadeau",
        "lot",
        "spécialement pour vous",
        "urgent",
    ):
        assert word in words.risky["fr"]
    for word in ("désespéré", "aidez-moi", "jeux d'argent", "casino"):
        assert word in words.risky["fr"]
    assert words_in("Votre FACTURE et un Lot spécialement pour VOUS", words.risky["fr"]) == [
        "facture",
        "lot",
        "spécialement pour vous",
    ]
    assert words_in("Aidez-moi : jeux d’argent", words.risky["fr"]) == ["aidez-moi", "jeux d'argent"]
    assert words_in("un pilote, une lotion, un lotissement", words.risky["fr"]) == []
    assert words_in("Your invoice and a gift", words.risky["en"]) == ["invoice", "gift"]
    assert words_in("Tu factura y un regalo", words.risky["es"]) == ["factura", "regalo"]
    assert words_in("Ihre Rechnung: dringend!", words.risky["de"]) == ["Rechnung", "dringend"]


def _message(subject: str, html: str, text: str | None = "Hello\n") -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["List-Id"] = "<news.example.com>"
    if text is not None:
        message.set_content(text)
        message.add_alternative(html, subtype="html")
    else:
        message.set_content(html, subtype="html")
    return message


def test_what_filters_distrust_is_found_with_weights() -> None:
    fr = LintContext("fr", word_lists(), confirmation=True)
    findings = lint_message(
        _message(
            "URGENT : VOTRE FACTURE CADEAU !!!",
            "<p>" + "Bla bla. " * 80 + '<a href="https://bit.ly/x">www.ma-banque.fr</a>'
            ' <a href="https://example.com/b">Cliquez ici</a> <img src="logo.png"> Un lot pour vous</p>',
            text=None,
        ),
        fr,
    )
    rules = {f.rule: f for f in findings if f.where != "body"}
    assert rules["risky-word"].where == "subject" and rules["risky-word"].weight == 9  # 3 words × 3
    body = [f for f in findings if f.rule == "risky-word" and f.where == "body"]
    assert len(body) == 1 and body[0].weight == 1  # one word ("lot"), weighted less than in a subject
    for rule in (
        "all-caps",
        "exclamation",
        "no-text-part",
        "link-mismatch",
        "shortener",
        "image-alt",
        "calls-to-action",
        "action-verb",
        "below-the-fold",
    ):
        assert rule in rules, f"{rule} not found: {[str(f) for f in findings]}"
    assert "www.ma-banque.fr" in rules["link-mismatch"].message and "bit.ly" in rules["link-mismatch"].message

    long = lint_message(_message("A" + "b" * 80, '<a href="https://example.com/c">Confirmer</a>'), fr)
    assert [f.rule for f in long] == ["length"]
    calm = lint_message(
        _message("Confirmez votre inscription", '<p><a href="https://example.com/c">Confirmer</a></p>'), fr
    )
    assert calm == []


def test_the_owner_extends_the_word_list(tmp_path: Path) -> None:
    extra = tmp_path / "words.toml"
    extra.write_text('[fr]\nrisky = ["promo flash"]\n[en]\nrisky = ["crypto"]\n', encoding="utf-8")
    settings = settings_with(lint={"risky_words_file": str(extra)})
    context = LintContext("fr", word_lists(settings.lint.risky_words_file))
    findings = lint_message(
        _message("Promo flash du jour", '<a href="https://e.com/c">Confirmer</a>'), context
    )
    assert any("'promo flash'" in f.message for f in findings)
    assert "facture" in context.words.risky["fr"]  # added to, not replaced

    extra.write_text("[fr]\nrisky = [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        settings_with(lint={"risky_words_file": str(extra)})
    assert (
        f"lint.risky_words_file '{extra}': [fr] risky must be a list of words in quotes"
        in caught.value.problems
    )
    with pytest.raises(ConfigError) as caught:
        settings_with(lint={"risky_words_file": str(tmp_path / "missing.toml")})
    assert any("does not exist" in p for p in caught.value.problems)


def _spammy_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", folder)
    fr = folder / "i18n" / "fr.json"
    fr.write_text(
        fr.read_text(encoding="utf-8").replace(
            '"confirm_subject": "Merci de confirmer votre inscription à {list}"',
            '"confirm_subject": "URGENT !!! Votre cadeau : {list}"',
        ),
        encoding="utf-8",
    )
    html = folder / "email" / "welcome.html"
    html.write_text(
        html.read_text().replace("</body>", '<img src="https://cdn.example.com/x.png"></body>'),
        encoding="utf-8",
    )
    return folder


async def test_lint_templates_and_check_config_tell_the_owner(tmp_path: Path) -> None:
    config = config_file(
        tmp_path,
        f'[server]\nsecret_key = "{SECRET}"\ndatabase = "sqlite:///{tmp_path}/a.db"\n'
        '[forms.newsletter]\ntitle = "The Letter"\nconsent_text = "Yes"\n',
    )
    code, out = await optin("--config", config, "lint-templates", env={})
    assert code == 0, out
    assert out.strip() == f"9 email(s) checked (templates in {REPO_ROOT / 'templates'}): nothing to fix"
    code, out = await optin("--config", config, "check-config", env={})
    assert "Email templates: the template lint finds nothing to fix." in out

    spammy = _spammy_templates(tmp_path)
    config = config_file(
        tmp_path,
        f'[server]\nsecret_key = "{SECRET}"\ndatabase = "sqlite:///{tmp_path}/a.db"\ntemplates_dir = "{spammy}"\n'
        '[forms.newsletter]\ntitle = "The Letter"\nconsent_text = "Yes"\n',
    )
    code, out = await optin("--config", config, "lint-templates", env={})
    assert code == 1, out
    assert "✗ confirm, form 'newsletter', fr — subject 'URGENT !!! Votre cadeau : The Letter'" in out
    assert "⚠ subject: the subject contains 'cadeau', 'urgent'" in out
    assert '⚠ subject: the subject has "!!"' in out
    assert out.count("an image has no alt text (https://cdn.example.com/x.png)") == 4  # welcome, 4 languages
    assert "finding(s) in 5 email(s)" in out
    code, out = await optin("--config", config, "check-config", env={})
    assert code == 0, out  # warnings, not problems: serve starts
    assert "Email templates: 6 warning(s) (`optin lint-templates` explains them):" in out
    assert "⚠ confirm, form 'newsletter', fr: subject: the subject contains 'cadeau', 'urgent'" in out


async def test_serve_logs_the_warnings_at_start_up(
    tmp_path: Path, nameserver: str, caplog: pytest.LogCaptureFixture
) -> None:
    spammy = _spammy_templates(tmp_path)
    config = base_config(f"sqlite:///{tmp_path}/a.db", "http://127.0.0.1", nameserver)
    config["server"]["templates_dir"] = str(spammy)
    with caplog.at_level(logging.WARNING, logger="optin"):
        async with serve(
            lambda url: make_settings({**config, "server": {**config["server"], "public_url": url}})
        ):
            pass
    said = [
        r.getMessage() for r in caplog.records if r.name == "optin" and "email template" in r.getMessage()
    ]
    assert any(
        "confirm, form 'newsletter', fr: subject: the subject contains 'cadeau', 'urgent'" in s for s in said
    )
    assert len(said) == 6
