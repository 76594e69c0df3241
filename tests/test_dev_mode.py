"""`make run` with no configuration: a demo form, a mail catcher and the whole flow, clickable."""

from __future__ import annotations

import asyncio
import re

import pytest

from service.errors import ConfigError
from service.settings import Settings, build_settings
from tests.support.app_server import client, confirm, free_port, serve, wait_for
from tests.widget.harness import solve


def development(database: str, nameserver: str) -> object:
    def configure(url: str) -> Settings:
        server = {"public_url": url, "database": database, "confirm_min_dwell_seconds": 0.0}
        raw = {"server": server, "dns": {"nameservers": [nameserver]}}
        return build_settings(raw, {}, "test")

    return configure


async def test_click_through_double_opt_in_with_the_mail_catcher(db_url: str, nameserver: str) -> None:
    async with serve(development(db_url, nameserver)) as (url, settings):  # type: ignore[arg-type]
        assert settings.uses_dev_mail_catcher
        async with client(url) as http:
            demo = await http.get("/")
            assert demo.status_code == 200
            assert '<script src="/widget.js" data-form="newsletter" async></script>' in demo.text
            assert "/dev/mail" in demo.text
            assert "cannot resolve public DNS names" not in demo.text  # the zone answers: DNS stays on
            widget = await http.get("/widget.js")
            assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]
            config = (await http.get("/v1/forms/newsletter")).json()
            assert config["consent_required"] and config["strings"]["submit"] == "Subscribe"

            # What the widget does: fetch the anti-bot challenge, solve it, take a few seconds.
            challenge = (await http.get("/v1/forms/newsletter/challenge")).json()
            too_soon = await http.post(
                "/v1/forms/newsletter/subscribe",
                json={"email": "newcomer@example.org", "consent": True, "optin_ts": challenge["fill_token"]},
            )
            assert too_soon.status_code == 400
            await asyncio.sleep(challenge["min_fill_ms"] / 1000 + 0.1)
            answer = await http.post(
                "/v1/forms/newsletter/subscribe",
                json={
                    "email": "newcomer@example.org",
                    "consent": True,
                    "optin_hp": "",
                    "optin_ts": challenge["fill_token"],
                    "altcha": solve(challenge),
                },
            )
            assert answer.status_code == 202, answer.text

            async def caught() -> str | None:
                page = (await http.get("/dev/mail")).text
                found = re.search(r'href="(http://127\.0\.0\.1:\d+/confirm/[^"]+)"', page)
                return found.group(1) if found else None

            link = await wait_for(caught, what="the confirmation in /dev/mail")
            assert "newcomer@example.org" in (await http.get("/dev/mail")).text
            detail = await http.get("/dev/mail/1")
            assert detail.status_code == 200 and "Auto-Submitted" in detail.text
            assert "Confirm my subscription" in (await http.get(link)).text
            assert "You&#39;re subscribed!" in (await confirm(http, link)).text


async def test_production_has_no_mail_viewer_and_needs_a_relay_and_secret(
    db_url: str, nameserver: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({"server": {"environment": "production", "database": db_url}}, {}, "test")
    problems = " ".join(caught.value.problems)
    assert "secret_key is required" in problems and "smtp.host is required" in problems

    def production(url: str) -> Settings:
        raw = {
            "server": {
                "environment": "production",
                "public_url": url,
                "database": db_url,
                "secret_key": "x" * 32,
            },
            "smtp": {"host": "127.0.0.1", "port": 2525, "sender": "News <news@example.com>"},
            "forms": {"newsletter": {"title": "News", "consent_text": "Yes, email me."}},
            "dns": {"nameservers": [nameserver]},
        }
        return build_settings(raw, {}, "test")

    async with serve(production) as (url, settings):
        assert not settings.uses_dev_mail_catcher
        async with client(url) as http:
            assert (await http.get("/dev/mail")).status_code == 404
            assert (await http.get("/")).status_code == 404  # the demo page is for development only
            assert (await http.get("/widget.js")).status_code == 200


async def test_without_public_dns_the_demo_form_still_works(db_url: str) -> None:
    """A sandbox or a train: nothing answers DNS, and the newcomer can still click through."""

    def offline(url: str) -> Settings:
        server = {"public_url": url, "database": db_url, "confirm_min_dwell_seconds": 0.0}
        raw = {"server": server, "dns": {"nameservers": [f"127.0.0.1:{free_port()}"], "timeout": 0.3}}
        return build_settings(raw, {}, "test")

    async with serve(offline) as (url, _settings):
        async with client(url) as http:
            assert "cannot resolve public DNS names" in (await http.get("/")).text
            verdict = (
                await http.post("/v1/verify", json={"email": "ann@gmail.com", "form": "newsletter"})
            ).json()
            assert verdict["decision"] == "accept"
