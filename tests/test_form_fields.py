"""A form's custom fields and list choice: settings in words, values checked, stored, every entry point."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from service.errors import ConfigError
from service.form_fields import FieldSpec, ListSpec, check_value, chosen_lists, read_extras
from service.settings import build_settings
from service.settings_show import render
from tests.support.app_server import client, relay_settings, serve, stored, text_of, wait_for
from tests.support.relay import Relay

FORM = "/v1/forms/newsletter"
SERVER = {"public_url": "http://127.0.0.1:8000", "secret_key": "s" * 20, "database": "sqlite:///./x.db"}
FIELDS: dict[str, Any] = {
    "company": {"type": "text", "max_length": 20},
    "seats": {"type": "number", "required": True},
    "plan": {"type": "choice", "choices": ["free", "pro"]},
    "start": {"type": "date"},
    "terms": {"type": "boolean", "required": True, "label": {"en": "I accept the terms", "fr": "J'accepte"}},
}
LISTS: dict[str, Any] = {"news": {"preselected": True}, "events": {}}


def problems(form: dict[str, Any], connectors: dict[str, Any] | None = None) -> list[str]:
    raw = {"server": SERVER, "forms": {"f": form}, "connectors": connectors or {}}
    with pytest.raises(ConfigError) as failed:
        build_settings(raw, {}, "test")
    return failed.value.problems


def test_settings_explain_what_is_wrong_with_fields_and_lists() -> None:
    found = problems(
        {
            "fields": {
                "Bad-Name": {},
                "email": {},
                "kind": {"type": "colour"},
                "size": {"type": "choice"},
                "age": {"type": "number", "max_length": 3},
                "note": {"type": "text", "max_length": 0, "colour": "red"},
            },
            "lists": {"news": {"connector": "esp"}, "events": {"connector": "esp", "list_id": "x"}},
        },
        {"esp": {"kind": "brevo", "api_key": "k", "list_id": "7"}},
    )
    assert found == [
        "forms.f.fields.Bad-Name: a name is a lower-case letter, then letters, digits or _ (at most 40 characters)",
        "forms.f.fields.email: 'email' is a name optin already uses; choose another",
        "forms.f.fields.kind.type must be one of text, number, boolean, choice, date, not 'colour'",
        'forms.f.fields.size.choices must list the values offered, like ["small", "large"]',
        "forms.f.fields.age.max_length is only for text fields",
        "forms.f.fields.note.max_length must be from 1 to 2000, not 0",
        "forms.f.fields.note.colour is not a setting optin knows (check the spelling)",
        "forms.f.lists.news must say where the list is at brevo: a Brevo list id (list_id, numeric)",
        "forms.f.lists.events.list_id must be brevo's numeric id, not 'x'",
    ]
    assert problems(
        {"lists": {"a": {"connector": "mc", "list_id": "1"}}},
        {"mc": {"kind": "mailchimp", "api_key": "k-us1", "list_id": "L"}},
    ) == [
        "forms.f.lists.a.list_id means nothing to a mailchimp connector; a list there is"
        " a Mailchimp interest id (interest) or tag name (tag)"
    ]
    assert problems({"reminder_after_hours": 500}) == [
        "forms.f.reminder_after_hours must be 0 (no reminder) or less than the links' life"
        " (168 hours, server.token_max_age_days), not 500"
    ]


def test_values_are_checked_and_kept_typed() -> None:
    text = FieldSpec("company", "text", max_length=30)
    assert check_value(text, "  Acme \t Corp ") == ("Acme Corp", None)
    assert check_value(text, "A" * 31) == (None, "must be at most 30 characters")
    assert (
        check_value(text, "visit www.evil.example")[1]
        == "web and email addresses are not accepted in this field"
    )
    assert (
        check_value(text, "mail me@evil.example")[1]
        == "web and email addresses are not accepted in this field"
    )
    number = FieldSpec("seats", "number", required=True)
    assert check_value(number, "12") == (12, None) and check_value(number, "2,5") == (2.5, None)
    assert check_value(number, 3) == (3, None) and check_value(number, "")[1] == "please fill in this field"
    assert (
        check_value(number, "nan")[1] == "must be a number"
        and check_value(number, True)[1] == "must be a single value"
    )
    date = FieldSpec("start", "date")
    assert check_value(date, "2026-02-30")[1] == "must be a date written YYYY-MM-DD"
    assert check_value(date, "2026-03-01") == ("2026-03-01", None) and check_value(date, None) == (None, None)
    choice = FieldSpec("plan", "choice", choices=("free", "pro"))
    assert (
        check_value(choice, "pro") == ("pro", None)
        and check_value(choice, "gold")[1] == "must be one of: free, pro"
    )
    boolean = FieldSpec("terms", "boolean", required=True)
    assert check_value(boolean, "on") == (True, None) and check_value(boolean, True) == (True, None)
    assert check_value(boolean, None)[1] == "please tick this box"
    lists = (ListSpec("news", "builtin", preselected=True), ListSpec("events", "builtin"))
    assert chosen_lists(lists, None) == (("news",), None)  # no boxes sent: the preselected ones
    assert chosen_lists(lists, ["events", "news"]) == (("news", "events"), None)
    assert chosen_lists(lists, "events") == (("events",), None)
    assert chosen_lists(lists, []) == ((), "please choose at least one list")
    assert chosen_lists(lists, ["spam"])[1] == "there is no list called 'spam'; the lists are news, events"
    extras = read_extras(
        (),
        (),
        {"utm_source": "x" * 300, "referrer": "javascript:alert(1)"},
        "https://a.example/?utm_medium=mail&utm_source=q",
    )
    assert extras.values == {"utm_source": "x" * 200, "utm_medium": "mail"}


async def test_every_wrong_field_is_answered_at_once_and_nothing_is_stored(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file, fields=FIELDS, lists=LISTS)
    async with serve(configure) as (url, _):
        async with client(url) as http:
            form = (await http.get(FORM)).json()
            assert [f["name"] for f in form["fields"]] == list(FIELDS)
            assert form["fields"][4]["labels"] == {"en": "I accept the terms", "fr": "J'accepte"}
            assert form["lists"][0] == {"name": "news", "label": "News", "labels": {}, "preselected": True}
            body = {"email": "ada@example.org", "consent": True, "seats": "many", "plan": "gold", "lists": []}
            bad = await http.post(f"{FORM}/subscribe", json=body)
            assert bad.status_code == 422
            assert bad.json() == {
                "error": "seats: must be a number",
                "field": "seats",
                "errors": {
                    "seats": "must be a number",
                    "plan": "must be one of: free, pro",
                    "terms": "please tick this box",
                    "lists": "please choose at least one list",
                },
            }
            assert await stored(db_url) == []
            # A plain HTML form: boxes sent as repeated keys; campaign fields from the page's URL.
            answer = await http.post(
                f"{FORM}/subscribe",
                content="email=bo%40example.org&consent=yes&seats=3&terms=on&lists=news&lists=events"
                "&company=Acme&page_url=https%3A%2F%2Fwww.example.com%2F%3Futm_source%3Dads%26utm_campaign%3Dfall",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Referer": "https://www.example.com/",
                },
            )
            assert answer.status_code == 303, answer.text
            [mail] = await wait_for(lambda: starttls_relay.to("bo@example.org"), what="the email")
    ((contact, events),) = await stored(db_url)
    assert contact.fields == {
        "company": "Acme",
        "seats": 3,
        "terms": True,
        "utm_source": "ads",
        "utm_campaign": "fall",
    }
    assert contact.lists == ("news", "events")
    assert [e.consent_text for e in events if e.event == "list_consent"] == ["News", "Events"]
    assert "Acme" not in text_of(mail)


def test_check_config_show_prints_fields_and_lists_as_settings_it_reads_back() -> None:
    connectors = {"mc": {"kind": "mailchimp", "api_key": "k-us1", "list_id": "L"}}
    lists = {
        "news": {"interest": "i1", "label": {"en": "News", "fr": "Actus"}, "preselected": True},
        "offers": {"tag": "Offers"},
    }
    form = {"connector": "mc", "fields": FIELDS, "lists": lists, "reminder_after_hours": 48}
    settings = build_settings({"server": SERVER, "forms": {"f": form}, "connectors": connectors}, {}, "test")
    shown = tomllib.loads(render(settings).replace('"********"', '"k-us1"'))
    again = build_settings({"server": SERVER, **{k: shown[k] for k in ("forms", "connectors")}}, {}, "again")
    assert again.forms["f"].fields == settings.forms["f"].fields
    assert again.forms["f"].lists == settings.forms["f"].lists
    assert again.forms["f"].reminder_after_hours == 48


async def test_a_referrer_that_no_url_parser_reads_is_left_out_not_a_500(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    # urllib raises ValueError for an unclosed IPv6 bracket: a signup carrying such a referrer
    # answered 500 (the visitor saw "something went wrong", nothing was stored).
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve(configure) as (url, _), client(url) as http:
        for i, referrer in enumerate(("http://[x", "https://[::1", "https://[fe80::1%eth0]/")):
            body = {
                "email": f"ref{i}@example.org",
                "consent": True,
                "referrer": referrer,
                "page_url": referrer,
            }
            answer = await http.post("/v1/forms/newsletter/subscribe", json=body)
            assert answer.status_code == 202, answer.text
    assert len(await stored(db_url)) == 3
