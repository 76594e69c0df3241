"""Farming the anti-bot proofs over HTTP: one fill-time token for many signups, challenges fetched
by the hundred, and a client that keeps being refused. What a bot gets, and what a person still gets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import httpx

from service.antibot import AntiBotPolicy, Challenges
from service.antibot.policy import DEFAULT_CHALLENGES_PER_IP_HOUR
from service.settings import Settings
from tests.support.app_server import SECRET, base_config, client, make_settings, stored
from tests.widget.harness import serve_antibot, solve

SUBSCRIBE = "/v1/forms/newsletter/subscribe"
CHALLENGE = "/v1/forms/newsletter/challenge"
BASE = 2_000  # fast to solve in Python
QUICK = AntiBotPolicy(altcha_max_number=BASE)


def behind_proxy(db_url: str, nameserver: str, **limits: int) -> Callable[[str], Settings]:
    """The service behind a trusted proxy on loopback, so a test can speak for many addresses."""

    def build(url: str) -> Settings:
        settings = make_settings(base_config(db_url, url, nameserver, limits=limits))
        return replace(settings, server=replace(settings.server, trusted_proxies=("127.0.0.1",)))

    return build


def source(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def challenge(http: httpx.AsyncClient, ip: str) -> dict[str, object]:
    answer = await http.get(CHALLENGE, headers=source(ip))
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_one_fill_time_token_serves_one_signup(db_url: str, nameserver: str) -> None:
    async with serve_antibot(behind_proxy(db_url, nameserver), {"newsletter": QUICK}) as (url, _):
        async with client(url) as http:
            # The bot draws the form once, waits out the fill time, then reuses the token with a
            # fresh proof of work for every signup.
            token = Challenges(SECRET).issue("newsletter", QUICK, now=time.time() - 10)["fill_token"]
            answers = []
            for i in range(20):
                proof = solve(await challenge(http, "93.184.216.9"))
                body = {"email": f"farm{i}@example.org", "consent": True, "optin_ts": token, "altcha": proof}
                answers.append(await http.post(SUBSCRIBE, json=body, headers=source("93.184.216.9")))
            assert [a.status_code for a in answers] == [202] + [400] * 19
            assert {a.json()["field"] for a in answers[1:]} == {"optin_ts"}
            assert "already sent once" in answers[1].json()["error"]
    assert len(await stored(db_url)) == 1


async def test_challenges_are_issued_sparingly_per_address_and_across_instances(
    db_url: str, nameserver: str
) -> None:
    configure = behind_proxy(db_url, nameserver)
    async with (
        serve_antibot(configure, {"newsletter": QUICK}) as (first, _),
        serve_antibot(configure, {"newsletter": QUICK}) as (second, _),
        client(first) as one,
        client(second) as two,
    ):
        half = DEFAULT_CHALLENGES_PER_IP_HOUR // 2
        statuses = [
            (await one.get(CHALLENGE, headers=source("93.184.216.7"))).status_code for _ in range(half)
        ]
        statuses += [
            (await two.get(CHALLENGE, headers=source("93.184.216.7"))).status_code for _ in range(half)
        ]
        assert statuses == [200] * DEFAULT_CHALLENGES_PER_IP_HOUR
        for http in (one, two) * 90:  # 300 fetches in all, as the attack did
            refused = await http.get(CHALLENGE, headers=source("93.184.216.7"))
            assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        assert "try again in" in refused.json()["error"]
        # Another address is not affected.
        assert (await one.get(CHALLENGE, headers=source("93.184.218.1"))).status_code == 200


async def test_a_refused_address_and_network_get_harder_challenges_that_still_solve(
    db_url: str, nameserver: str
) -> None:
    configure = behind_proxy(db_url, nameserver, signups_per_ip_hour=2)
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        bot, neighbour, stranger = "93.184.216.10", "93.184.216.99", "198.41.0.4"

        async def max_number(ip: str) -> object:
            altcha = (await challenge(http, ip))["altcha"]
            assert isinstance(altcha, dict)
            return altcha["maxnumber"]

        assert await max_number(bot) == BASE
        trap = {"email": "hp@example.org", "consent": True, "optin_hp": "x"}
        assert (await http.post(SUBSCRIBE, json=trap, headers=source(bot))).status_code == 400
        assert await max_number(bot) == 3 * BASE  # one bot signal: x3
        assert await max_number(neighbour) == BASE  # one refusal in the /24 is not yet the network's
        for _ in range(2):
            await http.post(
                SUBSCRIBE, json={"email": "bare@example.org", "consent": True}, headers=source(bot)
            )
        assert await max_number(neighbour) == 3 * BASE  # three in the /24
        assert await max_number(stranger) == BASE
        for _ in range(7):
            await http.post(SUBSCRIBE, json=trap, headers=source(bot))
        assert await max_number(bot) == 20 * BASE  # ten: x20

        # A 429 counts as well: the stranger signs up past its limit of 2 an hour.
        for i in range(3):
            proof = solve(await challenge(http, stranger))
            token = Challenges(SECRET).issue("newsletter", QUICK, now=time.time() - 10)["fill_token"]
            body = {"email": f"s{i}@example.org", "consent": True, "optin_ts": token, "altcha": proof}
            answer = await http.post(SUBSCRIBE, json=body, headers=source(stranger))
            assert answer.status_code == (202 if i < 2 else 429), answer.text
        assert await max_number(stranger) == 3 * BASE

        # The harder challenge is still a challenge: solved, it signs a person up.
        hard = await challenge(http, bot)
        token = Challenges(SECRET).issue("newsletter", QUICK, now=time.time() - 10)["fill_token"]
        body = {"email": "real@example.org", "consent": True, "optin_ts": token, "altcha": solve(hard)}
        assert (await http.post(SUBSCRIBE, json=body, headers=source(bot))).status_code == 202
    assert {c.email for c, _ in await stored(db_url)} == {
        "s0@example.org",
        "s1@example.org",
        "real@example.org",
    }


async def test_a_verify_refused_over_its_limit_counts_as_a_refusal_too(db_url: str, nameserver: str) -> None:
    """POST /v1/verify is answered from the edge itself (service.web.direct): its 429 must still
    be noted against the client, as every other visitor route's is."""
    configure = behind_proxy(db_url, nameserver, verify_per_ip_minute=2)
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        checker, other = "93.184.216.20", "198.41.0.5"
        body = {"email": "ann@example.org", "form": "newsletter"}
        statuses = [
            (await http.post("/v1/verify", json=body, headers=source(checker))).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        altcha = (await challenge(http, checker))["altcha"]
        assert isinstance(altcha, dict) and altcha["maxnumber"] == 3 * BASE
        untouched = (await challenge(http, other))["altcha"]
        assert isinstance(untouched, dict) and untouched["maxnumber"] == BASE
