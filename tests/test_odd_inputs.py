"""Odd values where a yes/no is expected: the hook's consent field and the honeypot, defined.

- A hook's consent counts as ticked when it is ``true``, a non-zero number, any text except an
  empty one or a "no" word (``0``, ``false``, ``no``, ``off``, ``n``, ``none``, ``null``,
  ``unchecked``, any case), or a list holding such a value (Contact Form 7 posts checkboxes as lists).
- The honeypot is empty only when it is absent, ``null`` or ``""``; anything else (``false``,
  ``0``, ``"0"``, a space, a list) is a filled trap.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.settings import Settings
from tests.support.app_server import base_config, client, make_settings, serve, stored

URL_TOKEN = "o" * 30
HOOK = f"/v1/hooks/newsletter/{URL_TOKEN}"
SUBSCRIBE = "/v1/forms/newsletter/subscribe"


def with_hook(db_url: str, nameserver: str) -> Callable[[str], Settings]:
    def build(url: str) -> Settings:
        config = base_config(db_url, url, nameserver)
        config["forms"]["newsletter"]["hook"] = {"secret": "s" * 24, "url_token": URL_TOKEN}
        return make_settings(config)

    return build


NOT_TICKED: list[object] = [
    "false", "False ", "no", "NO", "off", "n", "0", " 0 ", "", "  ", "none", "null", "unchecked",
    ["0"], ["false"], ["no", "off"], [""], [], [None], 0, 0.0, False, None, {}, {"a": "1"},
]  # fmt: skip
TICKED: list[object] = [
    "1",
    "yes",
    "on",
    "true",
    "TRUE",
    "y",
    "I agree",
    ["Yes, subscribe me"],
    ["0", "1"],
    True,
    1,
    2.5,
]


@pytest.mark.parametrize("consent", NOT_TICKED, ids=repr)
async def test_a_hook_consent_that_says_no_subscribes_nobody(
    db_url: str, nameserver: str, consent: object
) -> None:
    async with serve(with_hook(db_url, nameserver)) as (url, _), client(url) as http:
        envelope = await http.post(HOOK, json={"fields": {"email": "nora@example.org", "consent": consent}})
        assert envelope.status_code == 422, envelope.text
        assert envelope.json() == {
            "error": "the consent field 'consent' is not ticked: nobody was subscribed",
            "field": "consent",
        }
        flat = await http.post(HOOK, json={"email": "nora@example.org", "consent": consent})
        assert flat.status_code == 422, flat.text
    assert await stored(db_url) == []


async def test_a_hook_consent_that_says_yes_subscribes(db_url: str, nameserver: str) -> None:
    async with serve(with_hook(db_url, nameserver)) as (url, _), client(url) as http:
        for i, consent in enumerate(TICKED):
            answer = await http.post(
                HOOK, json={"fields": {"email": f"y{i}@example.org", "consent": consent}}
            )
            assert answer.status_code == 202, (consent, answer.text)
        form = await http.post(HOOK, data={"email": "form@example.org", "consent": "on"})
        assert form.status_code == 202
        unticked = await http.post(HOOK, data={"email": "form2@example.org", "consent": "off"})
        assert unticked.status_code == 422
    assert len(await stored(db_url)) == len(TICKED) + 1


@pytest.mark.parametrize("trap", [False, 0, 0.0, "0", "false", " ", "x", [], [""], {}, True], ids=repr)
async def test_any_value_in_the_honeypot_is_a_filled_trap(db_url: str, nameserver: str, trap: object) -> None:
    async with serve(with_hook(db_url, nameserver)) as (url, _), client(url) as http:
        answer = await http.post(
            SUBSCRIBE, json={"email": "hal@example.org", "consent": True, "optin_hp": trap}
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "optin_hp"
    assert await stored(db_url) == []


async def test_an_empty_honeypot_passes(db_url: str, nameserver: str) -> None:
    async with serve(with_hook(db_url, nameserver)) as (url, _), client(url) as http:
        for i, empty in enumerate([None, ""]):
            body = {"email": f"e{i}@example.org", "consent": True, "optin_hp": empty}
            assert (await http.post(SUBSCRIBE, json=body)).status_code == 202
        absent = await http.post(SUBSCRIBE, json={"email": "e9@example.org", "consent": True})
        assert absent.status_code == 202
        form = await http.post(SUBSCRIBE, data={"email": "e8@example.org", "consent": "yes", "optin_hp": ""})
        assert form.status_code == 303
        trapped = await http.post(
            SUBSCRIBE, data={"email": "e7@example.org", "consent": "yes", "optin_hp": "0"}
        )
        assert trapped.status_code == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consent", 5),
        ("consent", []),
        ("consent", {"yes": True}),
        ("optin_ts", 5),
        ("altcha", 1.5),
        ("altcha", []),
    ],
)
async def test_a_field_of_the_wrong_type_is_refused_even_when_unused(
    db_url: str, nameserver: str, field: str, value: object
) -> None:
    """The form asks no consent and runs no proof of work, yet the documented types still hold."""

    def build(url: str) -> Settings:
        config = base_config(db_url, url, nameserver)
        config["forms"]["quiet"] = {"title": "Quiet", "antibot": {"altcha": False, "min_fill_seconds": 0}}
        return make_settings(config)

    async with serve(build) as (url, _), client(url) as http:
        answer = await http.post(
            "/v1/forms/quiet/subscribe", json={"email": "typed@example.org", field: value}
        )
        assert answer.status_code in (400, 422), answer.text
        assert answer.json()["field"] == field
        fine = await http.post(
            "/v1/forms/quiet/subscribe", json={"email": "typed@example.org", "consent": "no"}
        )
        assert fine.status_code == 202
