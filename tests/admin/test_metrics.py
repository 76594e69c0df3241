"""/metrics: each counter moves by what happened, behind a key or on an address of its own."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.settings import Settings
from tests.admin.support import KEYS, with_admin
from tests.support.app_server import (
    HOOK_SECRET,
    base_config,
    bound_socket,
    client,
    confirm,
    link_in,
    make_settings,
    relay_settings,
    serve,
    sign_up,
    wait_for,
)
from tests.support.db import rows
from tests.support.relay import Relay
from tests.support.webhook_receiver import Receiver, run_receiver

Sample = tuple[str, tuple[tuple[str, str], ...]]


def bearer(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[name][0]}"}


async def scrape(http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> dict[Sample, float]:
    answer = await http.get("/metrics", headers=headers if headers is not None else bearer("prom"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def moved(before: dict[Sample, float], after: dict[Sample, float], prefix: str) -> dict[Sample, float]:
    return {
        key: after[key] - before.get(key, 0.0)
        for key in after
        if key[0].startswith(prefix) and key[0].endswith("_total") and after[key] != before.get(key, 0.0)
    }


def sample(name: str, **labels: str) -> Sample:
    return (name, tuple(sorted(labels.items())))


async def test_a_signup_confirm_unsubscribe_walk_moves_each_counter_by_one(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with run_receiver(Receiver(HOOK_SECRET)) as hook:
        configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file, hook.url))
        async with serve(configure) as (url, _), client(url) as http:
            before = await scrape(http)
            link = await sign_up(http, starttls_relay, "walk@example.org")
            await confirm(http, link)
            welcome = await wait_for(
                lambda: [m for m in starttls_relay.to("walk@example.org") if "Welcome" in str(m["Subject"])],
                what="the welcome email",
            )
            left = await http.post(link_in(welcome[-1], "unsubscribe"), data={})
            assert left.status_code == 200
            await wait_for(lambda: len(hook.events) == 2, what="the list told of both")
            await wait_for(
                lambda: rows(db_url, "SELECT count(*) FROM outbox WHERE state != 'done'")[0][0] == 0,
                what="every job done",
            )
            after = await scrape(http)
    changed = moved(before, after, "optin_")
    decision = next(k for k in changed if k[0] == "optin_verifications_total")
    assert dict(decision[1])["where"] == "signup"
    assert changed == {
        sample("optin_signups_total", form="newsletter", outcome="accepted"): 1,
        sample("optin_emails_total", kind="confirmation_email", outcome="sent"): 1,
        sample("optin_emails_total", kind="welcome_email", outcome="sent"): 1,
        sample("optin_link_opens_total", by="page_view"): 1,
        sample("optin_link_opens_total", by="person"): 1,
        sample("optin_confirmations_total", form="newsletter"): 1,
        sample("optin_unsubscribes_total", form="newsletter"): 1,
        decision: 1,
        # two calls to the list: the contact added, then removed
        sample("optin_connector_calls_total", connector="main-list", outcome="ok"): 2,
    }
    subscribe = sample(
        "optin_http_request_duration_seconds_count",
        method="POST",
        route="/v1/forms/{form_id}/subscribe",
        status="202",
    )
    assert after[subscribe] - before.get(subscribe, 0) == 1
    assert after[sample("optin_outbox_jobs", state="pending")] == 0
    assert after[sample("optin_outbox_oldest_due_age_seconds")] == 0


async def test_routes_the_edge_calls_straight_are_timed_under_their_template(
    db_url: str, nameserver: str
) -> None:
    """POST /v1/verify and GET /widget.js skip the router (service.web.direct): their latency
    still lands under the route, and a method the route does not take is still the router's 405."""

    def configure(url: str) -> Settings:
        return make_settings(base_config(db_url, url, nameserver))

    async with serve(with_admin(configure)) as (url, _), client(url) as http:
        before = await scrape(http)
        assert (await http.post("/v1/verify", json={"email": "ann@example.org"})).status_code == 200
        assert (await http.post("/v1/verify", content=b"{")).status_code == 400
        assert (await http.get("/widget.js")).status_code == 200
        assert (await http.get("/v1/verify")).status_code == 405
        after = await scrape(http)

    def count(method: str, route: str, status: str) -> float:
        key = sample("optin_http_request_duration_seconds_count", method=method, route=route, status=status)
        return after.get(key, 0) - before.get(key, 0)

    assert count("POST", "/v1/verify", "200") == 1
    assert count("POST", "/v1/verify", "400") == 1
    assert count("GET", "/widget.js", "200") == 1
    assert count("GET", "/v1/verify", "405") == 1


async def test_refusals_retries_and_dead_emails_are_counted(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _), client(url) as http:
        before = await scrape(http)
        for body in (
            {"email": "not an address", "consent": True},
            {"email": "ann@example.org"},  # no consent
            {"email": "bob@example.org", "consent": True, "optin_hp": "http://spam.example"},
        ):
            assert (await http.post("/v1/forms/newsletter/subscribe", json=body)).status_code in (400, 422)
        assert (
            await http.post("/v1/forms/nope/subscribe", json={"email": "a@example.org"})
        ).status_code == 404
        starttls_relay.data_replies = ["451 4.3.0 try again later", "554 5.7.1 refused"]
        await http.post("/v1/forms/newsletter/subscribe", json={"email": "cy@example.org", "consent": True})
        await wait_for(
            lambda: rows(db_url, "SELECT count(*) FROM outbox WHERE state = 'dead'")[0][0] == 1,
            what="the email to die after a retry",
        )
        after = await scrape(http)
    assert moved(before, after, "optin_") == {
        sample("optin_signups_total", form="newsletter", outcome="address"): 1,
        sample("optin_signups_total", form="newsletter", outcome="no_consent"): 1,
        sample("optin_signups_total", form="newsletter", outcome="antibot"): 1,
        sample("optin_signups_total", form="newsletter", outcome="accepted"): 1,
        sample("optin_emails_total", kind="confirmation_email", outcome="retried"): 1,
        sample("optin_emails_total", kind="confirmation_email", outcome="dead"): 1,
        **{k: v for k, v in moved(before, after, "optin_verifications").items()},
    }
    assert sum(moved(before, after, "optin_verifications").values()) == 3  # the consent-less one too
    assert after[sample("optin_outbox_jobs", state="dead")] == 1


async def test_metrics_need_a_key_with_the_metrics_scope(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve(with_admin(configure)) as (url, _), client(url) as http:
        anonymous = await http.get("/metrics")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
        assert (await http.get("/metrics", headers=bearer("reader"))).status_code == 403
        assert (
            await http.get("/metrics", headers={"authorization": "Bearer optin_wrong"})
        ).status_code == 401
        await scrape(http, bearer("ops"))  # admin holds every scope
        await scrape(http)
    async with serve(with_admin(configure, keys=("reader",))) as (url, _), client(url) as http:
        off = await http.get("/metrics", headers=bearer("reader"))
        assert off.status_code == 404 and "metrics scope" in off.json()["error"]


async def test_the_worker_role_and_a_separate_address_serve_metrics(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve(with_admin(configure), role="worker") as (url, _), client(url) as http:
        found = await scrape(http)
        assert sample("optin_outbox_jobs", state="pending") in found
        assert (await http.get("/v1/forms/newsletter")).status_code == 404  # a worker answers no visitor
    with bound_socket() as probe:
        port = probe.getsockname()[1]
    side: dict[str, Any] = {"metrics_listen": f"127.0.0.1:{port}"}
    async with serve(with_admin(configure, keys=("reader",), **side)) as (url, _), client(url) as http:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as prometheus:
            found = await scrape(prometheus, {})  # no key on its own address
            assert sample("optin_outbox_jobs", state="dead") in found
            assert (await prometheus.get("/admin")).status_code == 404  # and nothing else there
        assert (await http.get("/metrics")).status_code == 404  # no key may read it on the main port
