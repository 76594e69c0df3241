"""The widget in a real headless Chromium, embedded cross-origin under a strict CSP.

The host page is served from http://127.0.0.2:PORT (its own origin) with
``script-src SERVICE; style-src SERVICE`` and no 'unsafe-inline'; the widget, its stylesheet,
its solver and its language files come from the service on http://127.0.0.1:PORT.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    async_playwright,
    expect,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route as WebRoute

from service.antibot import AntiBotPolicy
from service.antibot.http import embed_snippet
from tests.support.app_server import bound_socket, code_in, link_in, relay_settings, stored, wait_for
from tests.support.relay import Relay
from tests.widget.harness import serve_antibot

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
CONSENT = "Yes, email me the Test Letter."
HOST = "127.0.0.2"


def chromium_path() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        ci = " (CI=true)" if os.environ.get("CI") == "true" else ""
        pytest.fail(
            f"Debian's chromium is not installed{ci}: run `make system-deps` (apt-get install chromium)"
        )
    return found


def host_page(request: Request) -> Response:
    service = request.app.state.service
    lang = request.query_params.get("lang", "en")
    mode = request.query_params.get("mode", "render")
    # The pinned tag from the README (versioned URL + SRI); the enhance page uses the short one.
    script = embed_snippet(service, "newsletter")
    if mode == "enhance":
        script = f'<script src="{service}/widget.js" data-form="newsletter" async></script>'
        body = (
            '<form data-optin-enhance="newsletter" action="/sent" method="post">'
            '<label for="c-email">Your email</label><input id="c-email" type="email" name="email">'
            '<label for="c-text">Message</label><textarea id="c-text" name="text"></textarea>'
            "<button>Send message</button></form>"
        )
    else:
        body = '<p>Sign up below.</p><div data-optin-form="newsletter"></div>'
    html = (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>Host page</title></head><body><main><h1>A host page</h1>{body}</main>{script}</body></html>"
    )
    csp = f"default-src 'none'; script-src {service}; style-src {service}; connect-src {service}; form-action 'self'"
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


async def sent(request: Request) -> Response:
    form = await request.form()
    return HTMLResponse(
        f"<!doctype html><title>Sent</title><p>Message sent by {escape(str(form['email']))}</p>"
    )


@dataclass
class Scene:
    page: Page
    host: str
    service: str
    relay: Relay
    context: BrowserContext
    refused: list[str] = field(default_factory=list)  # CSP violations and blocked requests
    submitted: list[dict[str, Any]] = field(default_factory=list)

    async def open(self, lang: str = "en", mode: str = "render", query: str = "") -> None:
        await self.page.goto(f"{self.host}/?lang={lang}&mode={mode}{query}")
        if mode == "render":
            await expect(self.page.get_by_role("button", name=LABELS[lang]["submit"])).to_be_visible()

    def email(self, lang: str = "en") -> Any:
        return self.page.get_by_label(LABELS[lang]["email"])


LABELS = {
    lang: {"email": data["email_label"], "submit": data["submit"], "success": data["success"]}
    for lang in ("en", "fr", "es", "de")
    for data in [json.loads((ROOT / "widget" / "i18n" / f"{lang}.json").read_text())]
}


@asynccontextmanager
async def scene(
    relay: Relay,
    ca_file: str,
    db_url: str,
    nameserver: str,
    policy: AntiBotPolicy | None = None,
    widget_strings: dict[str, dict[str, str]] | None = None,
    texts: dict[str, Any] | None = None,
    clock: Callable[[], float] = time.time,
    connectors: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[Scene]:
    executable = chromium_path()
    sock = bound_socket(HOST)
    host_url = f"http://{HOST}:{sock.getsockname()[1]}"
    form: dict[str, Any] = {"consent_text": CONSENT, **(texts or {})}
    configure = relay_settings(
        db_url,
        nameserver,
        relay,
        ca_file,
        allowed_origins=[host_url],
        widget_strings=widget_strings or {},
        connectors=connectors,
        **form,
    )
    policies = {"newsletter": policy or AntiBotPolicy(altcha_max_number=20_000)}
    async with serve_antibot(configure, policies, clock=clock) as (service_url, _settings):
        app = Starlette(routes=[WebRoute("/", host_page), WebRoute("/sent", sent, methods=["POST"])])
        app.state.service = service_url
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            async with async_playwright() as pw:
                browser: Browser = await pw.chromium.launch(
                    executable_path=executable,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--disable-component-update",
                    ],
                )
                context = await browser.new_context(viewport={"width": 640, "height": 720})
                await context.add_init_script(path=str(AXE))  # DevTools injection: not subject to CSP
                page = await context.new_page()
                result = Scene(page, host_url, service_url, relay, context)

                async def loopback_only(route: Route) -> None:
                    if urlsplit(route.request.url).hostname in (HOST, "127.0.0.1"):
                        await route.continue_()
                    else:
                        result.refused.append(route.request.url)
                        await route.abort()

                def console(message: ConsoleMessage) -> None:
                    if message.location.get("url", "").endswith("axe.min.js"):
                        return  # axe-core's own probes (it sets inline styles to measure contrast)
                    if "Content Security Policy" in message.text or "Refused to" in message.text:
                        result.refused.append(f"{message.text} @ {message.location}")

                def request(req: Any) -> None:
                    if req.method == "POST" and req.url.endswith("/subscribe"):
                        result.submitted.append(json.loads(req.post_data or "{}"))

                await context.route("**/*", loopback_only)
                page.on("console", console)
                page.on("request", request)
                try:
                    yield result
                finally:
                    await browser.close()
            assert result.refused == []
        finally:
            server.should_exit = True
            await task
            sock.close()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    result: dict[str, Any] = await page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]


async def test_typo_suggestion_subscribe_and_confirm(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        await s.open()
        email = s.email()
        await email.fill("ada@gmial.com")
        await email.blur()
        suggestion = s.page.get_by_role("button", name="ada@gmail.com")
        await expect(suggestion).to_be_visible()
        await expect(email).to_have_attribute("aria-invalid", "true")
        await expect(email).to_have_accessible_description(re.compile(r"^Did you mean ada@gmail\.com ?\?$"))

        await suggestion.click()
        await expect(email).to_have_value("ada@gmail.com")
        await expect(email).to_have_attribute("aria-invalid", "false")
        await expect(suggestion).to_have_count(0)

        await s.page.get_by_label("First name (optional)").fill("Ada")
        await s.page.get_by_label(CONSENT).check()
        await s.page.get_by_role("button", name="Subscribe").click()
        await expect(s.page.get_by_role("status")).to_have_text(LABELS["en"]["success"])
        await expect(email).to_be_hidden()

        sent = s.submitted[-1]
        assert sent["email"] == "ada@gmail.com" and sent["consent"] is True and sent["optin_hp"] == ""
        assert sent["optin_ts"] and sent["altcha"]

        await wait_for(lambda: starttls_relay.to("ada@gmail.com"), what="the confirmation email")
        await s.page.goto(link_in(starttls_relay.to("ada@gmail.com")[0], "confirm"))
        await s.page.get_by_role("button", name="Confirm my subscription").click()
        await expect(s.page.get_by_role("heading", name="You're subscribed!")).to_be_visible()


async def test_keyboard_only_and_no_axe_violations(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        await s.open()
        keys = s.page.keyboard
        email = s.email()
        await keys.press("Tab")
        await expect(email).to_be_focused()
        await keys.type("grace@gmial.com")
        await keys.press("Tab")
        first = s.page.get_by_label("First name (optional)")
        await expect(first).to_be_focused()
        suggestion = s.page.get_by_role("button", name="grace@gmail.com")
        await expect(suggestion).to_be_visible()
        assert await axe_violations(s.page) == []  # with the error and the suggestion showing

        await keys.press("Shift+Tab")
        await expect(suggestion).to_be_focused()
        await keys.press("Enter")
        await expect(email).to_have_value("grace@gmail.com")
        await expect(email).to_be_focused()
        await keys.press("Tab")
        await expect(first).to_be_focused()
        await keys.type("Grace")
        await keys.press("Tab")  # the honeypot is skipped
        consent = s.page.get_by_label(CONSENT)
        await expect(consent).to_be_focused()
        await keys.press("Space")
        await expect(consent).to_be_checked()
        await keys.press("Tab")
        await expect(s.page.get_by_role("button", name="Subscribe")).to_be_focused()
        await keys.press("Enter")
        status = s.page.get_by_role("status")
        await expect(status).to_have_text(LABELS["en"]["success"])
        # Next: the code from the email, in the field that now has the focus.
        code = s.page.get_by_label("Enter the 6-digit code we sent you")
        await expect(code).to_be_focused()
        assert await axe_violations(s.page) == []
        [mail] = await wait_for(lambda: starttls_relay.to("grace@gmail.com"), what="the confirmation email")
        await keys.type(code_in(mail))
        await keys.press("Enter")
        await expect(status).to_have_text("You're subscribed! Thank you.")
        await expect(status).to_be_focused()
        assert await axe_violations(s.page) == []


async def test_bots_are_refused(starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str) -> None:
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        # A bot that fills every field, the hidden honeypot included.
        await s.open()
        await s.email().fill("bot@example.org")
        await s.page.get_by_label(CONSENT).check()
        await s.page.locator("input[name=optin_hp]").fill("http://spam.example", force=True)
        await s.page.get_by_role("button", name="Subscribe").click()
        status = s.page.get_by_role("status")
        await expect(status).to_have_text("Please wait a moment and send the form again.")
        assert s.submitted[-1]["optin_hp"] == "http://spam.example"

        # A person: accepted; then the same proof replayed by a script is refused.
        await s.open()
        await s.email().fill("ada@example.org")
        await s.page.get_by_label(CONSENT).check()
        await s.page.get_by_role("button", name="Subscribe").click()
        await expect(s.page.get_by_role("status")).to_have_text(LABELS["en"]["success"])
        replay = await s.page.evaluate(
            """async ([url, body]) => {
                const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                            body: JSON.stringify(body)});
                return [r.status, await r.json()];
            }""",
            [f"{s.service}/v1/forms/newsletter/subscribe", {**s.submitted[-1], "email": "eve@example.org"}],
        )
        assert replay == [
            400,
            {"error": "this anti-robot proof was already used: send the form again", "field": "altcha"},
        ]

        # A script that takes a fresh token and posts at once is too fast.
        hasty = await s.page.evaluate(
            """async (service) => {
                const c = await (await fetch(service + "/v1/forms/newsletter/challenge")).json();
                const body = {email: "bot@example.org", consent: true, optin_hp: "", optin_ts: c.fill_token};
                const r = await fetch(service + "/v1/forms/newsletter/subscribe", {method: "POST",
                    headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
                return [r.status, await r.json()];
            }""",
            s.service,
        )
        assert hasty == [
            400,
            {"error": "that was too fast: wait a few seconds and send the form again", "field": "optin_ts"},
        ]
        await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the confirmation email")
        assert starttls_relay.to("bot@example.org") == [] and starttls_relay.to("eve@example.org") == []


async def test_every_language_looks_right_and_passes_axe(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        for lang in ("en", "fr", "es", "de"):
            await s.open(lang)
            email = s.email(lang)
            await email.fill("ada@yahooo.com")
            await email.blur()
            await expect(s.page.get_by_role("button", name="ada@yahoo.com")).to_be_visible()
            assert await axe_violations(s.page) == [], lang
            await s.page.screenshot(path=str(ARTIFACTS / f"widget-{lang}.png"), full_page=True)


async def test_enhancing_a_contact_form(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        await s.open(mode="enhance")
        email = s.page.get_by_label("Your email")
        box = s.page.get_by_label("Also subscribe me to The Test Letter")
        await expect(box).to_be_visible()
        await email.fill("lin@gmial.com")
        await email.blur()
        await expect(s.page.get_by_role("button", name="lin@gmail.com")).to_be_visible()
        await s.page.get_by_role("button", name="Send message").click()  # blocked: undeliverable
        await expect(email).to_be_focused()
        await s.page.get_by_role("button", name="lin@gmail.com").click()
        await box.check()
        assert await axe_violations(s.page) == []
        await s.page.get_by_role("button", name="Send message").click()
        await expect(s.page.get_by_text("Message sent by lin@gmail.com")).to_be_visible()
        await wait_for(lambda: starttls_relay.to("lin@gmail.com"), what="the confirmation email")


async def test_a_form_overrides_the_widget_wording(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    wording = {"fr": {"submit": "Je m'abonne à la lettre", "email_label": "Votre adresse"}}
    async with scene(starttls_relay, ca_file, db_url, nameserver, widget_strings=wording) as s:
        await s.page.goto(f"{s.host}/?lang=fr")
        await expect(s.page.get_by_role("button", name="Je m'abonne à la lettre")).to_be_visible()
        await expect(s.page.get_by_label("Votre adresse")).to_be_visible()
        await s.open("en")  # other languages keep the built-in wording
        assert s.refused == []


async def test_a_refused_address_solves_harder_challenges_and_a_retry_takes_fresh_proofs(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    """A person behind an address that bots made suspect: the widget solves the harder challenge;
    when a submit is refused after its proofs were spent, the next one carries new ones."""
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        async with httpx.AsyncClient(base_url=s.service) as http:
            trap = {"email": "bot@example.org", "consent": True, "optin_hp": "x"}
            for _ in range(10):
                assert (await http.post("/v1/forms/newsletter/subscribe", json=trap)).status_code == 400
            hard = (await http.get("/v1/forms/newsletter/challenge")).json()["altcha"]
            assert hard["maxnumber"] == 20 * 20_000

        spoiled: list[str] = []

        async def spoil_first_submit(route: Route) -> None:
            # The first submit reaches the server with an address it refuses (after the guard
            # spent its proofs), as when a check the widget could not make says no.
            if route.request.method == "POST" and not spoiled:
                spoiled.append(route.request.post_data or "")
                body = {**json.loads(route.request.post_data or "{}"), "email": "ada@@example.org"}
                await route.continue_(post_data=json.dumps(body))
            else:
                await route.continue_()

        await s.page.route("**/v1/forms/newsletter/subscribe", spoil_first_submit)
        await s.open()
        await s.email().fill("ada@example.org")
        await s.page.get_by_label(CONSENT).check()
        await s.page.get_by_role("button", name="Subscribe").click()
        await expect(s.email()).to_have_attribute("aria-invalid", "true", timeout=15_000)
        await s.page.get_by_role("button", name="Subscribe").click()
        await expect(s.page.get_by_role("status")).to_have_text(LABELS["en"]["success"], timeout=15_000)
        first, second = s.submitted[-2:]
        assert second["optin_ts"] != first["optin_ts"] and second["altcha"] != first["altcha"]
        await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the confirmation email")


async def test_title_and_consent_in_the_visitors_language(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    french = "Oui, envoyez-moi la Lettre de test."
    texts = {
        "title": {"en": "The Test Letter", "fr": "La Lettre de test"},
        "consent_text": {"en": CONSENT, "fr": french},
    }
    async with scene(starttls_relay, ca_file, db_url, nameserver, texts=texts) as s:
        await s.open("fr")
        await expect(s.page.get_by_text("La Lettre de test", exact=True)).to_be_visible()
        await s.email("fr").fill("zoe@example.org")
        await s.page.get_by_label(french).check()
        await s.page.get_by_role("button", name=LABELS["fr"]["submit"]).click()
        await expect(s.page.get_by_role("status")).to_have_text(LABELS["fr"]["success"])
        assert s.submitted[-1]["language"] == "fr"
        await s.open("en")  # the same form in English
        await expect(s.page.get_by_text("The Test Letter", exact=True)).to_be_visible()
        await expect(s.page.get_by_label(CONSENT)).to_be_visible()
        await wait_for(lambda: starttls_relay.to("zoe@example.org"), what="the confirmation email")
    ((_contact, events),) = await stored(db_url)
    (signup,) = [e for e in events if e.event == "signup"]
    assert signup.consent_text == french  # the ledger holds the very text the visitor ticked
