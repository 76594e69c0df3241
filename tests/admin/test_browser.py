"""The web admin in Debian's headless Chromium: sign in, every page, retry a dead job, erase a
person; axe finds nothing on any page, in English and French, on a phone and a desktop; the
strict CSP refuses nothing. Screenshots are kept in the test's temporary folder."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    async_playwright,
    expect,
)

from tests.admin.support import KEYS, with_admin
from tests.support.app_server import client, confirm, relay_settings, serve, sign_up, wait_for
from tests.support.db import rows
from tests.support.relay import Relay
from tests.widget.test_browser import AXE, axe_violations, chromium_path

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(chromium: Browser, refused: list[str], **options: Any) -> tuple[BrowserContext, Page]:
    context = await chromium.new_context(**options)
    await context.add_init_script(path=str(AXE))  # DevTools injection: not subject to the CSP

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.location.get("url", "").endswith("axe.min.js"):
            return
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(f"{message.text} @ {message.location}")

    await context.route("**/*", loopback_only)
    page = await context.new_page()
    page.on("console", console)
    return context, page


async def checked(page: Page, shots: Path, name: str) -> None:
    """No axe violation, nothing wider than the screen, and a screenshot to look at."""
    assert await axe_violations(page) == [], name
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the screen"
    await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


async def sign_in(page: Page, url: str, secret: str, label: str = "Admin key or password") -> None:
    await page.goto(f"{url}/admin")
    await page.get_by_label(label).fill(secret)
    await page.keyboard.press("Enter")


async def test_sign_in_every_page_retry_and_erase(
    starttls_relay: Relay,
    ca_file: str,
    db_url: str,
    nameserver: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    refused: list[str] = []
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _), client(url) as http, browser() as chromium:
        link = await sign_up(http, starttls_relay, "ann@gmail.com")
        await confirm(http, link)
        await sign_up(http, starttls_relay, "bob@outlook.com")
        starttls_relay.rcpt_reply = "550 5.1.1 <dee@orange.fr>: no such mailbox"
        await http.post("/v1/forms/newsletter/subscribe", json={"email": "dee@orange.fr", "consent": True})
        await wait_for(
            lambda: rows(db_url, "SELECT count(*) FROM outbox WHERE state = 'dead'") == [(1,)],
            what="a dead job",
        )
        starttls_relay.rcpt_reply = None

        for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context, page = await new_page(chromium, refused, viewport=viewport)
            await sign_in(page, url, "optin_wrong-key")
            await expect(page.get_by_role("alert")).to_have_text("This key or password is not valid.")
            await checked(page, shots, f"signin-refused-{size}")
            await page.get_by_label("Admin key or password").fill(KEYS["ops"][0])
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
            await expect(
                page.get_by_role("img", name="Signups, confirmations and unsubscribes per day")
            ).to_be_visible()
            await checked(page, shots, f"overview-{size}")
            for name in ("Funnel", "Outbox", "Connectors", "Contacts"):
                await (
                    page.get_by_role("navigation", name="Admin pages").get_by_role("link", name=name).click()
                )
                await expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
                await checked(page, shots, f"{name.lower()}-{size}")
            await context.close()

        context, page = await new_page(chromium, refused, viewport=DESKTOP)
        await sign_in(page, url, KEYS["ops"][0])
        await expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
        # The dead job: its reason shown masked, then retried from its row.
        await page.goto(f"{url}/admin/outbox?state=dead")
        row = page.get_by_role("row").filter(has_text="confirmation_email")
        await expect(row).to_contain_text("550 5.1.1 <d***@orange.fr>: no such mailbox")
        await row.get_by_role("button", name=re.compile(r"^Retry #")).click()
        await expect(page.get_by_role("status")).to_have_text("Queued again: 1 job(s).")
        await wait_for(lambda: starttls_relay.to("dee@orange.fr"), what="the retried email")
        await checked(page, shots, "outbox-retried")

        # One person's data, then erased after a confirmation step.
        await page.goto(f"{url}/admin/contacts")
        await page.get_by_label("Email address").fill("ann@gmail.com")
        await page.get_by_role("button", name="Find").click()
        await expect(page.get_by_role("heading", name="ann@gmail.com")).to_be_visible()
        await expect(page.get_by_role("region", name="Consent ledger newsletter")).to_contain_text(
            "confirmation"
        )
        await expect(page.get_by_role("region", name="Link activity newsletter")).to_contain_text("A person")
        await expect(page.locator(".accesses")).to_contain_text("ops viewed it")
        await checked(page, shots, "contact")
        async with page.expect_download() as download:
            await page.get_by_role("button", name="Export as JSON").click()
        saved = tmp_path / "optin-contact.json"
        await (await download.value).save_as(saved)
        exported = saved.read_text()
        assert '"email": "ann@gmail.com"' in exported and '"consent_ledger"' in exported
        await page.get_by_role("button", name="Erase…").click()
        await expect(page.get_by_role("heading", name="Erase this person's data?")).to_be_visible()
        await checked(page, shots, "erase-confirm")
        assert rows(db_url, "SELECT count(*) FROM contacts WHERE email = 'ann@gmail.com'") == [(1,)]
        await page.get_by_role("button", name="Yes, erase everything").click()
        await expect(page.get_by_role("status")).to_have_text("Erased: 1 contact(s) with ann@gmail.com.")
        assert rows(db_url, "SELECT count(*) FROM contacts WHERE email = 'ann@gmail.com'") == [(0,)]
        actions = rows(db_url, "SELECT actor, action FROM data_access ORDER BY id")
        assert actions == [("key:ops", "view"), ("key:ops", "export"), ("key:ops", "erase")]
        await page.goto(f"{url}/admin/contacts")
        await page.get_by_label("Email address").fill("ann@gmail.com")
        await page.get_by_role("button", name="Find").click()
        await expect(page.get_by_text(re.compile("This address was erased on"))).to_be_visible()
        await context.close()

        # In French, from the browser's language.
        context, page = await new_page(chromium, refused, viewport=PHONE, locale="fr-FR")
        await sign_in(page, url, KEYS["ops"][0], label="Clé d'administration ou mot de passe")
        await expect(page.get_by_role("heading", name="Vue d'ensemble", level=1)).to_be_visible()
        await checked(page, shots, "overview-fr")
        await page.goto(f"{url}/admin/funnel")
        await expect(page.get_by_role("heading", name="Entonnoir", level=1)).to_be_visible()
        await checked(page, shots, "funnel-fr")
        await context.close()
    assert refused == []
    print(f"admin screenshots: {shots}")
    request.node.user_properties.append(("screenshots", str(shots)))
