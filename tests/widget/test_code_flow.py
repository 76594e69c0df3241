"""The code flow in Debian's chromium: the widget under a strict CSP, a real relay, a real service."""

from __future__ import annotations

import json

from playwright.async_api import expect

from tests.support.app_server import code_in, link_in, stored, wait_for
from tests.support.clock import Clock
from tests.support.db import rows
from tests.support.relay import Relay
from tests.widget.test_browser import ARTIFACTS, CONSENT, LABELS, ROOT, Scene, axe_violations, scene

CODE_LABEL = "Enter the 6-digit code we sent you"
SUBSCRIBED = "You're subscribed! Thank you."
DAY = 86_400.0


async def sign_up(s: Scene, email: str) -> None:
    await s.open()
    await s.email().fill(email)
    await s.page.get_by_label(CONSENT).check()
    await s.page.get_by_role("button", name="Subscribe").click()
    await expect(s.page.get_by_role("status")).to_have_text(LABELS["en"]["success"])
    await expect(s.page.get_by_label(CODE_LABEL)).to_be_focused()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_the_right_code_pasted_confirms_without_leaving_the_page(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        await s.context.grant_permissions(["clipboard-read", "clipboard-write"])
        await sign_up(s, "ada@example.org")
        code = s.page.get_by_label(CODE_LABEL)
        # One input, made for one-time codes.
        await expect(s.page.locator("input[name=code]")).to_have_count(1)
        await expect(code).to_have_attribute("autocomplete", "one-time-code")
        await expect(code).to_have_attribute("inputmode", "numeric")
        assert await axe_violations(s.page) == []
        [mail] = await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the email")
        digits = code_in(mail)
        # Pasted as the email shows it, with its space: the widget keeps the digits.
        await s.page.evaluate("text => navigator.clipboard.writeText(text)", f"{digits[:3]} {digits[3:]}")
        await code.focus()
        await s.page.keyboard.press("Control+V")
        await expect(code).to_have_value(digits)
        await s.page.get_by_role("button", name="Confirm").click()
        status = s.page.get_by_role("status")
        await expect(status).to_have_text(SUBSCRIBED)
        await expect(status).to_be_focused()
        await expect(code).to_be_hidden()
    ((contact, events),) = await stored(db_url)
    assert contact.status == "confirmed"
    assert [e.detail for e in events if e.event == "confirmation"] == ["method=code"]


async def test_five_wrong_codes_then_a_new_email(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        await sign_up(s, "bo@example.org")
        [mail] = await wait_for(lambda: starttls_relay.to("bo@example.org"), what="the email")
        code = s.page.get_by_label(CODE_LABEL)
        confirm = s.page.get_by_role("button", name="Confirm")
        for left in (4, 3, 2, 1):
            await code.fill(wrong(code_in(mail)))
            await confirm.click()
            await expect(code).to_have_accessible_description(f"That code isn't right. Tries left: {left}.")
            await expect(code).to_have_attribute("aria-invalid", "true")
            await expect(code).to_be_focused()
        await code.fill(wrong(code_in(mail)))
        await confirm.click()
        await expect(code).to_have_accessible_description(
            "Too many wrong codes. We can send you a new email."
        )
        again = s.page.get_by_role("button", name="Send me a new email")
        await expect(again).to_be_focused()
        assert await axe_violations(s.page) == []
        # Now the right code is refused too: the signup used its tries.
        await code.fill(code_in(mail))
        await confirm.click()
        await expect(code).to_have_accessible_description(
            "Too many wrong codes. We can send you a new email."
        )
        await again.click()
        await expect(code).to_be_focused()
        await expect(again).to_be_hidden()
        mails = await wait_for(
            lambda: len(starttls_relay.to("bo@example.org")) == 2 and starttls_relay.to("bo@example.org"),
            what="the new email",
        )
        await code.fill(code_in(mails[-1]))
        await confirm.click()
        await expect(s.page.get_by_role("status")).to_have_text(SUBSCRIBED)
    outcomes = rows(db_url, "SELECT method, outcome FROM link_events ORDER BY id")
    assert outcomes == [("code", "wrong_code")] * 5 + [("code", "confirmed")]


async def test_an_expired_code_offers_a_new_email(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    clock = Clock()
    async with scene(starttls_relay, ca_file, db_url, nameserver, clock=clock) as s:
        await sign_up(s, "cy@example.org")
        [mail] = await wait_for(lambda: starttls_relay.to("cy@example.org"), what="the email")
        sql = "SELECT count(*) FROM outbox WHERE state = 'pending'"
        await wait_for(lambda: rows(db_url, sql) == [(0,)], what="the outbox to settle")
        clock.advance(7 * DAY + 60)  # a week later, the tab still open
        code = s.page.get_by_label(CODE_LABEL)
        await code.fill(code_in(mail))
        await s.page.get_by_role("button", name="Confirm").click()
        await expect(code).to_have_accessible_description(
            "This code has expired. We can send you a new email."
        )
        await s.page.get_by_role("button", name="Send me a new email").click()
        await expect(code).to_have_accessible_description(
            "If we can send you another email now, it is on its way: enter its code here."
        )
        mails = await wait_for(
            lambda: len(starttls_relay.to("cy@example.org")) == 2 and starttls_relay.to("cy@example.org"),
            what="the new email",
        )
        await code.fill(code_in(mails[-1]))
        await s.page.get_by_role("button", name="Confirm").click()
        await expect(s.page.get_by_role("status")).to_have_text(SUBSCRIBED)


async def test_a_link_confirmed_in_another_tab_shows_here(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        await sign_up(s, "di@example.org")
        [mail] = await wait_for(lambda: starttls_relay.to("di@example.org"), what="the email")
        other = await s.context.new_page()
        await other.goto(link_in(mail, "confirm"))
        await other.get_by_role("button", name="Confirm my subscription").click()
        await expect(other.get_by_role("heading", name="You're subscribed!")).to_be_visible()
        await other.close()
        await s.page.bring_to_front()  # back to the signup page
        await expect(s.page.get_by_role("status")).to_have_text(SUBSCRIBED, timeout=15_000)
        await expect(s.page.get_by_label(CODE_LABEL)).to_be_hidden()
        assert await axe_violations(s.page) == []


async def test_the_code_step_in_every_language_passes_axe(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with scene(starttls_relay, ca_file, db_url, nameserver) as s:
        for lang in ("en", "fr", "es", "de"):
            words = json.loads((ROOT / "widget" / "i18n" / f"{lang}.json").read_text())
            await s.open(lang)
            await s.email(lang).fill(f"{lang}@example.org")
            await s.page.get_by_label(CONSENT).check()
            await s.page.get_by_role("button", name=words["submit"]).click()
            code = s.page.get_by_label(words["code_label"].replace("{n}", "6"))
            await expect(code).to_be_focused()
            address = f"{lang}@example.org"
            [mail] = await wait_for(lambda a=address: starttls_relay.to(a), what="the email")  # type: ignore[misc]
            await code.fill(wrong(code_in(mail)))
            await s.page.get_by_role("button", name=words["code_submit"]).click()
            wrong_code = words["code_wrong"].replace("{n}", "4")
            await expect(code).to_have_accessible_description(wrong_code)
            assert await axe_violations(s.page) == [], lang
            await s.page.screenshot(path=str(ARTIFACTS / f"widget-code-{lang}.png"), full_page=True)
