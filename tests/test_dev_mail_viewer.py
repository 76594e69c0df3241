"""The development mail viewer in a real Chromium: no page wider than the window, and the HTML
part shown as the recipient sees it, in a sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Page, async_playwright, expect

from service.settings import Settings, build_settings
from tests.support.app_server import client, serve, wait_for
from tests.widget.test_browser import chromium_path

LONG_NAME = "Maximiliane-Wilhelmina"


def development(database: str, nameserver: str) -> object:
    def configure(url: str) -> Settings:
        raw = {
            "server": {"public_url": url, "database": database, "confirm_min_dwell_seconds": 0.0},
            "dns": {"nameservers": [nameserver]},
            "forms": {
                "newsletter": {
                    "title": "The Extraordinarily Long-Winded Weekly Newsletter of Example Industries",
                    "consent_text": "Yes, email me.",
                    "antibot": {"altcha": False, "min_fill_seconds": 0},
                }
            },
        }
        return build_settings(raw, {}, "test")

    return configure


@asynccontextmanager
async def browser_page(width: int, refused: list[str]) -> AsyncIterator[Page]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            page = await browser.new_page(viewport={"width": width, "height": 800})
            page.on(
                "console",
                lambda m: refused.append(m.text) if "Refused" in m.text or "Blocked" in m.text else None,
            )
            yield page
        finally:
            await browser.close()


async def assert_fits(page: Page, width: int) -> None:
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths == [width, width], f"the page is {widths[0]} px wide in a {width} px window"
    heading = await page.get_by_role("heading", level=1).bounding_box()
    assert heading is not None and heading["x"] >= 0 and heading["x"] + heading["width"] <= width


async def test_the_mail_viewer_fits_the_window_and_shows_the_html_part(db_url: str, nameserver: str) -> None:
    async with serve(development(db_url, nameserver)) as (url, _settings):  # type: ignore[arg-type]
        async with client(url) as http:
            answer = await http.post(
                "/v1/forms/newsletter/subscribe",
                json={"email": "newcomer@example.org", "first_name": LONG_NAME, "consent": True},
            )
            assert answer.status_code == 202, answer.text

            async def caught() -> bool:
                return (await http.get("/dev/mail/1")).status_code == 200

            await wait_for(caught, what="the confirmation in /dev/mail")
            alone = await http.get("/dev/mail/1/html")
            assert "sandbox" in alone.headers["content-security-policy"]
            assert "default-src 'none'" in alone.headers["content-security-policy"]

        refused: list[str] = []
        for width in (1000, 375):
            async with browser_page(width, refused) as page:
                await page.goto(f"{url}/dev/mail")
                await assert_fits(page, width)
                await page.get_by_role("link", name="Please confirm your subscription", exact=False).click()
                await expect(page.get_by_role("heading", level=1)).to_contain_text(
                    "confirm your subscription"
                )
                await assert_fits(page, width)

                frame = page.locator("iframe.email")
                assert await frame.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
                email = page.frame_locator("iframe.email")
                await expect(email.get_by_text(f"Hello {LONG_NAME},")).to_be_visible()
                confirm = email.get_by_role("link", name="Confirm my subscription")
                await expect(confirm).to_be_visible()
                async with page.expect_popup() as opened:
                    await confirm.click()
                popup = await opened.value
                await expect(popup.get_by_role("button", name="Confirm my subscription")).to_be_visible()
                assert "/confirm/" in popup.url
                assert await frame.evaluate(
                    "f => { try { return f.contentDocument === null } catch { return true } }"
                )
    assert refused == []
