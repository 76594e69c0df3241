"""Subscription bombing, scanners and injection: the defences a public form needs, with defaults."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from service.errors import ConfigError
from service.limits import MinuteCounter
from service.settings import LimitSettings, Settings
from tests.support.app_server import (
    answer_shape,
    base_config,
    client,
    confirm,
    link_in,
    make_settings,
    relay_settings,
    serve,
    sign_up,
    stored,
    wait_for,
)
from tests.support.relay import Relay
from tests.test_privacy import admin_settings, export_of

POST = "/v1/forms/newsletter/subscribe"


def defended(configure: Callable[[str], Settings], dwell: float = 0.0) -> Callable[[str], Settings]:
    """The real default limits, and the test client standing behind a trusted proxy."""

    def build(url: str) -> Settings:
        settings = configure(url)
        server = replace(settings.server, trusted_proxies=("127.0.0.1",), confirm_min_dwell_seconds=dwell)
        return replace(settings, limits=LimitSettings(), server=server)

    return build


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_fifty_signups_for_one_victim_from_fifty_ips_send_one_email(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(defended(relay_settings(db_url, nameserver, starttls_relay, ca_file))) as (url, _):
        async with client(url) as http:
            answers = [
                await http.post(
                    POST,
                    json={"email": "victim@example.org", "consent": True},
                    headers=from_ip(f"198.{i}.7.9"),
                )
                for i in range(50)
            ]
            assert {a.status_code for a in answers} == {202}
            assert len({repr(answer_shape(a)) for a in answers}) == 1
            await wait_for(lambda: starttls_relay.messages, what="the one confirmation")
            await asyncio.sleep(0.5)
            assert len(starttls_relay.messages) == 1


async def test_per_ip_and_per_network_limits_answer_429_with_retry_after(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(defended(relay_settings(db_url, nameserver, starttls_relay, ca_file))) as (url, _):
        async with client(url) as http:
            for i in range(20):
                ok = await http.post(
                    POST, json={"email": f"u{i}@example.org", "consent": True}, headers=from_ip("192.0.2.1")
                )
                assert ok.status_code == 202
            refused = await http.post(
                POST, json={"email": "u20@example.org", "consent": True}, headers=from_ip("192.0.2.1")
            )
            assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 3600
            assert "your address" in refused.json()["error"]
            # The same /24 from other addresses: 60 an hour for the whole network.
            statuses = [
                (
                    await http.post(
                        POST,
                        json={"email": f"n{i}@example.org", "consent": True},
                        headers=from_ip(f"192.0.2.{i + 2}"),
                    )
                ).status_code
                for i in range(45)
            ]
            assert statuses.count(202) == 40 and statuses[-1] == 429
            # Another network is not affected.
            other = await http.post(
                POST, json={"email": "o@example.org", "consent": True}, headers=from_ip("203.0.113.5")
            )
            assert other.status_code == 202


async def test_identical_answers_for_new_pending_confirmed_and_erased(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure, key = admin_settings(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _):
        async with client(url) as http:
            new = await http.post(POST, json={"email": "pat@example.org", "consent": True})
            pending = await http.post(POST, json={"email": "pat@example.org", "consent": True})
            await wait_for(lambda: starttls_relay.messages, what="a confirmation")
            await confirm(http, link_in(starttls_relay.messages[0], "confirm"))
            confirmed = await http.post(POST, json={"email": "pat@example.org", "consent": True})
            erased_answer = await http.delete(
                "/v1/contacts/pat@example.org", headers={"Authorization": f"Bearer {key}"}
            )
            assert erased_answer.json() == {"status": "erased", "contacts": 1}
            erased = await http.post(POST, json={"email": "pat@example.org", "consent": True})
            answers = [new, pending, confirmed, erased]
            assert {a.status_code for a in answers} == {202}
            assert len({repr(answer_shape(a)) for a in answers}) == 1


async def test_header_injection_in_every_field_goes_nowhere(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            injected = "\r\nBcc: victim@example.net\r\nSubject: hacked"
            bad = await http.post(POST, json={"email": "ivan@example.org" + injected, "consent": True})
            assert bad.status_code == 422
            form_post = await http.post(
                POST, data={"email": "ivan@example.org\nBcc: victim@example.net", "consent": "1"}
            )
            assert form_post.status_code == 422
            language = await http.post(POST, json={"email": "ivan@example.org", "language": "de" + injected})
            assert language.status_code == 422 and language.json()["field"] == "language"
            ok = await http.post(
                POST,
                json={
                    "email": "ivan@example.org",
                    "first_name": "Ivan" + injected,
                    "last_name": "Ter" + injected,
                    "page_url": "https://www.example.com/" + injected,
                    "consent": True,
                },
                headers={"User-Agent": "bot" + injected.replace("\r\n", " ")},
            )
            assert ok.status_code == 202
            await wait_for(lambda: starttls_relay.messages, what="the confirmation")
            message = starttls_relay.messages[0]
            assert message.get_all("Bcc") is None and message.get_all("To") == ["ivan@example.org"]
            assert message["Subject"] == "Please confirm your subscription to The Test Letter"
            assert "victim@example.net" not in message.as_string()


async def test_scanners_cannot_confirm_but_a_person_can(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure, key = admin_settings(
        defended(relay_settings(db_url, nameserver, starttls_relay, ca_file), dwell=1.0)
    )
    async with serve(configure) as (url, _):
        async with client(url) as http:
            link = await sign_up(http, starttls_relay, "sam@example.org")
            scanner = {"User-Agent": "Mimecast URL scanner"}
            assert (await http.head(link, headers=scanner)).status_code == 200
            page = await http.get(link, headers=scanner)
            nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
            assert nonce
            no_nonce = await http.post(link, headers=scanner)
            too_fast = await http.post(link, data={"nonce": nonce.group(1)}, headers=scanner)
            forged = await http.post(link, data={"nonce": nonce.group(1)[:-2] + "xx"}, headers=scanner)
            for answer in (no_nonce, too_fast, forged):
                assert answer.status_code == 200 and "press the button once more" in answer.text
            document = await export_of(http, key, "sam@example.org")
            assert document["contacts"][0]["status"] == "pending"

            # A person reads the page, then presses the button.
            page = await http.get(link, headers={"User-Agent": "Firefox"})
            nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
            assert nonce
            await asyncio.sleep(1.1)
            done = await http.post(link, data={"nonce": nonce.group(1)}, headers={"User-Agent": "Firefox"})
            assert "subscribed" in done.text
            document = await export_of(http, key, "sam@example.org")
            contact = document["contacts"][0]
            assert contact["status"] == "confirmed"
            outcomes = [(e["method"], e["outcome"]) for e in contact["link_activity"]]
            assert outcomes == [
                ("HEAD", "shown"),
                ("GET", "shown"),
                ("POST", "missing_nonce"),
                ("POST", "too_fast"),
                ("POST", "bad_nonce"),
                ("GET", "shown"),
                ("POST", "confirmed"),
            ]
            assert contact["link_activity"][-1]["seconds_after_page"] >= 1.0


async def test_a_hook_sender_is_not_rate_limited_as_one_visitor(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    hook = {"secret": "s" * 20, "url_token": "u" * 30, "email_field": "email", "consent_field": "ok"}
    configure = defended(relay_settings(db_url, nameserver, starttls_relay, ca_file, hook=hook))
    async with serve(configure) as (url, _):
        async with client(url) as http:
            answers = [
                await http.post(
                    f"/v1/hooks/newsletter/{'u' * 30}", data={"email": f"z{i}@example.org", "ok": "1"}
                )
                for i in range(25)
            ]
            assert {a.status_code for a in answers} == {202}
            # Visitors the sender names are limited one by one, as on the form.
            visitor = [
                (
                    await http.post(
                        f"/v1/hooks/newsletter/{'u' * 30}",
                        json={
                            "fields": {"email": f"v{i}@example.org", "ok": "1"},
                            "meta": {"ip": "192.0.2.77"},
                        },
                    )
                ).status_code
                for i in range(21)
            ]
            assert visitor.count(202) == 20 and visitor[-1] == 429


async def test_verify_checks_are_limited_per_address(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    def five_a_minute(url: str) -> Settings:
        settings = defended(relay_settings(db_url, nameserver, starttls_relay, ca_file))(url)
        return replace(settings, limits=replace(settings.limits, verify_per_ip_minute=5))

    async with serve(five_a_minute) as (url, _):
        async with client(url) as http:
            # The window slides: six checks straddling a minute's turn may count as five. Start
            # well inside a minute, however slowly a loaded machine answers.
            if time.time() % 60 > 40:
                await asyncio.sleep(60.5 - time.time() % 60)
            body = {"email": "ann@example.org", "form": "newsletter"}
            answers = [
                await http.post("/v1/verify", json=body, headers=from_ip("192.0.2.9")) for _ in range(6)
            ]
            assert [a.status_code for a in answers] == [200] * 5 + [429]
            assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
            other = await http.post("/v1/verify", json=body, headers=from_ip("192.0.2.10"))
            assert other.status_code == 200


def test_minute_counter_slides_across_the_minute_boundary() -> None:
    counter = MinuteCounter(limit=10)
    assert all(counter.hit("ip", 120.0 + i) is None for i in range(10))  # minute 2, from 2:00
    assert counter.hit("ip", 130.0) == 50  # over: wait for the minute to turn
    # 2:30 into minute 3: half of minute 2 still counts (5), so 5 more fit, not 10.
    assert [counter.hit("ip", 210.0) for _ in range(6)] == [None] * 5 + [30]
    assert counter.hit("other", 210.0) is None


async def test_a_trusted_proxy_network_names_the_client_and_nothing_wider_is_accepted(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    """Kubernetes ingress pods change address: their network may be trusted, as a network."""
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)

    def behind_pod_network(url: str) -> Settings:
        settings = configure(url)
        server = replace(settings.server, trusted_proxies=("127.0.0.0/8",))
        return replace(settings, server=server, limits=LimitSettings())  # the real defaults

    async with serve(behind_pod_network) as (url, _), client(url) as http:
        answers = [
            await http.post(
                POST,
                json={"email": f"k{i}@example.org", "consent": True},
                # a visitor's forged hop, then the visitor as the ingress saw them, then the ingress pod
                headers={"X-Forwarded-For": f"203.0.113.{i}, 198.51.100.9, 127.0.0.7"},
            )
            for i in range(21)
        ]
    # The client is 198.51.100.9 every time, whatever it claimed: its limit of 20 an hour holds.
    assert [a.status_code for a in answers] == [202] * 20 + [429]
    ledger = await stored(db_url)
    assert {events[0].ip for _, events in ledger} == {"198.51.100.9"}

    for bad in ("0.0.0.0/0", "10.0.0.0/7", "::/16", "ingress.example.com", "10.244.0.1/16"):
        with pytest.raises(ConfigError, match="trusted_proxies"):
            make_settings(
                base_config(db_url, "http://127.0.0.1:1", nameserver, server={"trusted_proxies": [bad]})
            )
    good = make_settings(
        base_config(db_url, "http://127.0.0.1:1", nameserver, server={"trusted_proxies": ["10.244.0.0/16"]})
    )
    assert good.server.trusted_proxies == ("10.244.0.0/16",)
