"""Strings that broke parsers elsewhere, in every field and path of every public route, on both
databases: an answer in words (2xx, 3xx or 4xx), never a 500.

Each of these once reached a parser that raised something the route did not expect: "²" passes
``str.isdigit()`` and fails ``int()``; 5,000 digits fail ``int()``; "http://[x" fails
``urlsplit``; 1,490 "[" fail ``json.loads`` with a RecursionError; PostgreSQL refuses a NUL in any
text. The list also carries the classics (injections, controls, bidi, long text).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest

from tests.support.app_server import client, relay_settings, serve
from tests.support.relay import Relay
from tests.test_form_fields import FIELDS, LISTS
from tests.widget.harness import with_policies
from tests.widget.test_antibot_http import QUICK

NASTY: tuple[str, ...] = (
    "\u0000",
    "a\u0000b@example.org",
    "\u0001\u001f\u007f",
    "²",
    "①",
    "9" * 5000,
    "-1",
    "1e309",
    "nan",
    "Infinity",
    "http://[x",
    "https://[::1",
    "http://127.0.0.1:99999/",
    "[" * 1490,
    base64.b64encode(b"[" * 1490).decode(),
    "%00%ff%",
    "\u202eevil",
    "\u2028\u2029\u0085",
    "💩" * 100,
    "x" * 20000,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/x}",
    "ann@example.org\r\nBcc: victim@example.org",
    "=?utf-8?b?QWRtaW4=?= <admin@example.org>",
    "ann@[127.0.0.1]",
    "javascript:alert(1)",
    "../../../../etc/passwd",
    "s2.AAAA.9999999999999.AAAAAAAAAAAAAAAAAAAAAA",
    "",
    " ",
)
FORM_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "language",
    "lists",
    "consent",
    "website",
    "referrer",
    "page_url",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    *FIELDS,
)
PROOF_FIELDS = ("altcha", "optin_ts", "optin_hp")  # read first, on a form that asks for proofs
URL_TOKEN = "t" * 30
FORM = "/v1/forms/newsletter"
SUBSCRIBE = f"{FORM}/subscribe"
HOOK = f"/v1/hooks/newsletter/{URL_TOKEN}"


def _configure(db_url: str, nameserver: str, relay: Relay, ca_file: str, proofs: bool) -> Any:
    base = relay_settings(
        db_url,
        nameserver,
        relay,
        ca_file,
        fields=FIELDS,
        lists=LISTS,
        hook={"secret": "s" * 24, "url_token": URL_TOKEN},
    )
    # Without proofs every field reaches its parser; with them, the proofs' own parsers run.
    return with_policies(base, {"newsletter": QUICK}) if proofs else base


def _valid() -> dict[str, Any]:
    return {"email": "ann@example.org", "consent": True, "seats": 3, "terms": True}


@pytest.mark.parametrize("proofs", [False, True], ids=["fields", "proofs"])
async def test_no_nasty_string_in_any_public_field_or_path_answers_500(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, proofs: bool
) -> None:
    fields = PROOF_FIELDS if proofs else FORM_FIELDS
    failures: list[str] = []

    def note(what: str, status: int) -> None:
        if status >= 500:
            failures.append(f"{what}: {status}")

    async with (
        serve(_configure(db_url, nameserver, starttls_relay, ca_file, proofs)) as (url, _),
        client(url) as http,
    ):

        async def post(what: str, path: str, **body: Any) -> None:
            note(what, (await http.post(path, **body)).status_code)

        async def get(path: str) -> None:
            try:
                note(f"GET {path[:40]!r}", (await http.get(path)).status_code)
            except (ValueError, httpx.InvalidURL):  # a URL httpx itself will not send
                pass

        for nasty in NASTY:
            shown = repr(nasty[:24])
            quoted = nasty[:3000].replace("#", "%23").replace("?", "%3F")
            # All at once: one group commit for the signups this string lets through.
            await asyncio.gather(
                *(
                    call
                    for name in fields
                    for call in (
                        post(f"subscribe json {name}={shown}", SUBSCRIBE, json={**_valid(), name: nasty}),
                        post(f"subscribe form {name}={shown}", SUBSCRIBE, data={**_valid(), name: nasty}),
                        post(f"hook {name}={shown}", HOOK, json={"fields": {**_valid(), name: nasty}}),
                    )
                ),
                post(f"verify {shown}", "/v1/verify", json={"email": nasty}),
                post(f"verify form {shown}", "/v1/verify", json={"email": "ann@example.org", "form": nasty}),
                post(f"code signup {shown}", f"{FORM}/code", json={"signup": nasty, "code": "123456"}),
                post(f"code {shown}", f"{FORM}/code", json={"signup": "s2.x", "code": nasty}),
                post(f"status {shown}", f"{FORM}/status", json={"signup": nasty}),
                post(f"resend {shown}", f"{FORM}/resend", json={"signup": nasty}),
                post(f"confirm/resend {shown}", "/confirm/resend", data={"email": nasty}),
                get(f"/confirm/{quoted}"),
                get(f"/unsubscribe/{quoted}"),
                get(f"/v1/forms/{quoted}"),
                get(f"/v1/forms/{quoted}/challenge"),
                get(f"/widget/{quoted}/widget.css"),
            )
    assert failures == []
