"""The anti-bot defences over real HTTP: what a bot posting straight to the API is told."""

from __future__ import annotations

import base64
import gzip
import json
import time
from dataclasses import replace

import httpx
import pytest

from service.antibot import AntiBotPolicy, Challenges
from service.antibot.http import embed_snippet
from service.errors import ConfigError
from service.settings import REPO_ROOT, FormSettings, Settings
from tests.support.app_server import SECRET, client, relay_settings, wait_for
from tests.support.relay import Relay
from tests.widget.harness import serve_antibot, solve

SUBSCRIBE = "/v1/forms/newsletter/subscribe"
# Fast to solve in Python; the fill time is met by signing the token in the past.
QUICK = AntiBotPolicy(altcha_max_number=2_000)


def person(**extra: object) -> dict[str, object]:
    return {"email": "ada@example.org", "consent": True, **extra}


async def proofs(http: httpx.AsyncClient, form: str = "newsletter", age: float = 10.0) -> dict[str, str]:
    """What the widget sends: a solved challenge and a fill token issued ``age`` seconds ago."""
    answer = await http.get(f"/v1/forms/{form}/challenge")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    token = Challenges(SECRET).issue(form, QUICK, now=time.time() - age)["fill_token"]
    return {"altcha": solve(body), "optin_ts": token, "optin_hp": ""}


async def test_a_widget_signup_passes_and_bots_are_told_why_not(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        challenge = (await http.get("/v1/forms/newsletter/challenge")).json()
        assert challenge["honeypot"] == "optin_hp" and challenge["min_fill_ms"] == 3000
        assert challenge["altcha"]["maxnumber"] == 2_000 and challenge["fill_token"]

        ok = await http.post(SUBSCRIBE, json=person(**await proofs(http)))
        assert ok.status_code == 202, ok.text
        await wait_for(lambda: starttls_relay.messages, what="the confirmation email")

        bare = await http.post(SUBSCRIBE, json=person())
        assert bare.status_code == 400
        assert bare.json() == {
            "error": "this form could not be checked: reload the page and send it again",
            "field": "optin_ts",
        }

        trap = await http.post(SUBSCRIBE, json=person(**{**await proofs(http), "optin_hp": "http://spam"}))
        assert trap.status_code == 400 and trap.json()["field"] == "optin_hp"

        hasty = await http.post(SUBSCRIBE, json=person(**await proofs(http, age=1.0)))
        assert hasty.status_code == 400 and hasty.json()["field"] == "optin_ts"
        assert "too fast" in hasty.json()["error"]

        stale = await http.post(SUBSCRIBE, json=person(**await proofs(http, age=3 * 3600)))
        assert stale.status_code == 400 and "open too long" in stale.json()["error"]

        fields = await proofs(http)
        first = await http.post(SUBSCRIBE, json=person(**fields, email="bob@example.org"))
        assert first.status_code == 202, first.text
        replay = await http.post(SUBSCRIBE, json=person(**fields, email="eve@example.org"))
        assert replay.status_code == 400
        assert replay.json() == {
            "error": "this anti-robot proof was already used: send the form again",
            "field": "altcha",
        }

        forged = json.loads(base64.b64decode((await proofs(http))["altcha"]))
        forged["number"] += 1
        wrong = await http.post(
            SUBSCRIBE,
            json=person(
                **{**await proofs(http), "altcha": base64.b64encode(json.dumps(forged).encode()).decode()}
            ),
        )
        assert wrong.status_code == 400 and wrong.json()["field"] == "altcha"

        garbage = await http.post(SUBSCRIBE, json=person(**{**await proofs(http), "altcha": "not base64!"}))
        assert garbage.status_code == 400 and garbage.json()["field"] == "altcha"

        # A plain HTML form (no JavaScript) without the proofs gets an error page, not a signup.
        page = await http.post(SUBSCRIBE, data={"email": "ada@example.org", "consent": "yes"})
        assert page.status_code == 400 and "reload the page" in page.text
        assert len(starttls_relay.messages) <= 2


async def test_a_challenge_is_bound_to_its_form(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)

    def two_forms(url: str) -> Settings:
        settings = configure(url)
        return replace(settings, forms={**settings.forms, "other": FormSettings(id="other", title="Other")})

    async with serve_antibot(two_forms, {"newsletter": QUICK, "other": QUICK}) as (url, _):
        async with client(url) as http:
            borrowed = await proofs(http, form="other")
            answer = await http.post(
                SUBSCRIBE, json=person(**{**await proofs(http), "altcha": borrowed["altcha"]})
            )
            assert answer.status_code == 400 and answer.json()["field"] == "altcha"
            token = await http.post(
                SUBSCRIBE, json=person(**{**await proofs(http), "optin_ts": borrowed["optin_ts"]})
            )
            assert token.status_code == 400 and token.json()["field"] == "optin_ts"
            missing = await http.get("/v1/forms/nope/challenge")
            assert missing.status_code == 404


async def test_challenges_survive_a_restart_and_stay_single_use(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        fields = await proofs(http)
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        assert (await http.post(SUBSCRIBE, json=person(**fields))).status_code == 202
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        replay = await http.post(SUBSCRIBE, json=person(**fields))
        assert replay.status_code == 400 and replay.json()["field"] == "altcha"


async def test_a_form_can_turn_defences_off_for_a_no_js_form(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    policy = AntiBotPolicy.from_mapping({"altcha": False, "min_fill_seconds": 0})
    async with serve_antibot(configure, {"newsletter": policy}) as (url, _), client(url) as http:
        posted = await http.post(
            SUBSCRIBE, data={"email": "ada@example.org", "consent": "yes", "optin_hp": ""}
        )
        assert posted.status_code == 303
        trapped = await http.post(
            SUBSCRIBE, data={"email": "ada@example.org", "consent": "yes", "optin_hp": "x"}
        )
        assert trapped.status_code == 400
        challenge = (await http.get("/v1/forms/newsletter/challenge")).json()
        assert challenge["altcha"] is None and challenge["fill_token"] is None


async def test_widget_files_are_versioned_cached_and_gzipped(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve_antibot(configure) as (url, _), client(url) as http:
        script = await http.get("/widget.js")
        assert script.status_code == 200 and script.headers["access-control-allow-origin"] == "*"
        assert "__OPTIN_VERSION__" not in script.text
        version = script.text.split('VERSION = "', 1)[1].split('"', 1)[0]
        css = await http.get(f"/widget/{version}/widget.css")
        assert css.status_code == 200 and css.headers["cache-control"].endswith("immutable")
        assert "text/css" in css.headers["content-type"]
        old = await http.get("/widget/000000000000/widget.css")
        assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"
        assert (await http.get(f"/widget/{version}/harness.py")).status_code == 404
        for lang in ("en", "fr", "es", "de"):
            assert (await http.get(f"/widget/{version}/i18n/{lang}.json")).json()["submit"]
        # A browser asking again with what it has gets "304 Not Modified" and no body, per encoding.
        for encoding in ("gzip", "identity"):
            first = await http.get("/widget.js", headers={"Accept-Encoding": encoding})
            etag = first.headers["etag"]
            again = await http.get("/widget.js", headers={"Accept-Encoding": encoding, "If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
            stale = await http.get(
                "/widget.js", headers={"Accept-Encoding": encoding, "If-None-Match": '"old"'}
            )
            assert stale.status_code == 200 and stale.content == first.content
        assert first.headers["etag"] != script.headers["etag"]  # gzip and plain are different bytes


async def test_the_main_script_fits_the_size_budget_as_served(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve_antibot(configure) as (url, _):
        async with httpx.AsyncClient(base_url=url) as http:
            request = http.build_request("GET", "/widget.js", headers={"Accept-Encoding": "gzip"})
            response = await http.send(request, stream=True)
            wire = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
    assert response.headers["content-encoding"] == "gzip"
    assert len(gzip.decompress(wire)) > 4_000  # the real widget, not a stub
    assert len(wire) <= 8 * 1024, f"widget.js is {len(wire)} bytes gzipped; the budget is 8 KiB"


def test_policy_settings_are_checked_in_words() -> None:
    assert AntiBotPolicy.from_mapping({}) == AntiBotPolicy()
    policy = AntiBotPolicy.from_mapping(
        {"honeypot": False, "min_fill_seconds": 5, "altcha_max_number": 20000}
    )
    assert (policy.honeypot, policy.min_fill_seconds, policy.altcha_max_number) == (False, 5.0, 20000)
    with pytest.raises(ConfigError) as bad:
        AntiBotPolicy.from_mapping(
            {"honeypots": True, "altcha": "yes", "min_fill_seconds": -1, "altcha_max_number": 10}
        )
    assert bad.value.problems == [
        "unknown antibot setting 'honeypots'; expected one of: altcha, altcha_max_number, challenges_per_ip_hour, honeypot, "
        "max_age_minutes, min_fill_seconds",
        "antibot setting 'altcha' must be true or false, not 'yes'",
        "antibot setting 'altcha_max_number' must be between 1,000 and 10,000,000 (the work a browser "
        "does per signup), not 10",
        "antibot setting 'min_fill_seconds' must be between 0 (off) and 60 seconds, not -1.0",
    ]


def test_the_readme_snippet_pins_the_widget_as_served() -> None:
    readme = (REPO_ROOT / "README.md").read_text().split("## The widget", 1)[1]
    assert embed_snippet("https://signup.example.com", "newsletter") in readme, (
        "README's embed snippet is stale: paste `python -m service.antibot.http` output"
    )


async def test_a_proof_nested_too_deep_for_the_json_parser_is_refused_in_words(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    # 1,490 "[" fit the 2,000 characters a proof may have once base64'd; Python's JSON parser
    # gives up at ~1,000 levels with a RecursionError, which answered 500.
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        deep = base64.b64encode(b"[" * 1490).decode()
        assert len(deep) <= 2000
        answer = await http.post(SUBSCRIBE, json=person(**{**await proofs(http), "altcha": deep}))
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "altcha"
