"""Recurring imports from a local HTTP server: run twice (the second only updates), once per period
across replicas, a failing source recorded and the owner alerted, SSRF refused."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from service.imports.fetch import FetchError, fetch
from service.imports.schedule import ImportScheduler
from service.imports.settings import ImportSettings
from service.store import open_store
from service.verification import Verifier
from tests.imports.support import PERMISSION, export_server, settings_for
from tests.support.app_server import wait_for
from tests.support.db import rows

EXPORT = "E-mail;Prénom;Société\nann@gmail.com;Ann;Acme\nmarco@libero.it;Marco;Q\n"


def recurring(db_url: str, nameserver: str, source: str, **extra: Any) -> Any:
    table = {
        "source": source,
        "every": "24h",
        "form": "newsletter",
        "policy": "add_update",
        "map": {"Société": "company"},
        "permission": PERMISSION,
        "allow_loopback": True,
        **extra,
    }
    return settings_for(
        db_url, nameserver, imports={"shop": table}, server={"owner_email": "owner@example.com"}
    )


async def scheduler_run(settings: Any, at: float) -> list[str]:
    store = await open_store(settings.server.database)
    try:
        return await ImportScheduler(settings, store, Verifier(settings.verifier)).tick(at)
    finally:
        await store.close()


async def test_a_recurring_import_runs_once_per_period_and_the_second_run_only_updates(
    db_url: str, nameserver: str
) -> None:
    with export_server() as server:
        server.files["/export.csv"] = EXPORT.encode()
        settings = recurring(
            db_url, nameserver, server.url("/export.csv"), headers={"Authorization": "Bearer s3cret"}
        )
        now = time.time()
        assert await scheduler_run(settings, now) == ["shop"]
        assert await scheduler_run(settings, now + 1) == []  # the same period: already run
        assert await scheduler_run(settings, now + 86_400) == ["shop"]
    assert server.requests[0][1]["Authorization"] == "Bearer s3cret"
    runs = rows(db_url, "SELECT state, rows_read, added, updated FROM import_runs ORDER BY id")
    assert runs == [("done", 2, 2, 0), ("done", 2, 0, 2)]
    assert rows(db_url, "SELECT count(*) FROM contacts WHERE status = 'confirmed'") == [(2,)]


async def test_two_replicas_ticking_at_once_run_an_import_once(db_url: str, nameserver: str) -> None:
    with export_server() as server:
        server.files["/export.csv"] = EXPORT.encode()
        settings = recurring(db_url, nameserver, server.url("/export.csv"))
        now = time.time()
        both = await asyncio.gather(scheduler_run(settings, now), scheduler_run(settings, now))
    assert sorted(len(names) for names in both) == [0, 1]
    assert rows(db_url, "SELECT count(*) FROM import_runs") == [(1,)]


async def test_a_failing_source_is_recorded_and_the_owner_alerted(db_url: str, nameserver: str) -> None:
    with export_server() as server:
        settings = recurring(db_url, nameserver, server.url("/gone.csv"))
        assert await scheduler_run(settings, time.time()) == ["shop"]
    [(state, error)] = rows(db_url, "SELECT state, error FROM import_runs")
    assert state == "failed" and "404" in error
    [(kind, payload)] = rows(db_url, "SELECT kind, payload FROM outbox")
    assert kind == "import_alert_email" and "404" in payload and '"import": "shop"' in payload


async def test_the_alert_email_tells_the_owner_what_failed(db_url: str, nameserver: str) -> None:
    from service.alerts import import_alert_email
    from service.render import Renderer

    settings = recurring(db_url, nameserver, "https://shop.example.com/x.csv")
    message = import_alert_email(
        Renderer(settings.server.templates_dir),
        sender="optin <optin@example.com>",
        to="owner@example.com",
        name="shop",
        reason="https://shop.example.com/x.csv answered 404 Not Found <b>",
        at=time.time(),
        public_url="https://signup.example.com",
        message_id="<x@example.com>",
    )
    assert message["Subject"] == "[optin] import 'shop' failed"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "&lt;b&gt;" in str(html.get_content())


def source(url: str, **extra: Any) -> ImportSettings:
    return ImportSettings(name="shop", source=url, form="newsletter", permission="p", **extra)


async def test_ssrf_a_source_on_a_private_or_loopback_address_is_refused(tmp_path: Path) -> None:
    for url in (
        "https://10.1.2.3/export.csv",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/x",
    ):
        with pytest.raises(FetchError, match="not a public address"):
            await fetch(source(url, timeout=2), tmp_path)
    with export_server() as server:
        server.files["/export.csv"] = EXPORT.encode()
        # loopback itself, unless the import allows it (trials and tests), and by name too
        with pytest.raises(FetchError, match="not a public address"):
            await fetch(source(server.url("/export.csv")), tmp_path)
        with pytest.raises(FetchError, match="not a public address"):
            await fetch(source(f"http://localhost:{server.port}/export.csv"), tmp_path)
        assert server.requests == []


async def test_ssrf_a_redirect_to_a_private_address_is_refused_before_connecting(tmp_path: Path) -> None:
    with export_server() as server:
        server.redirects["/export.csv"] = "http://192.168.1.20/admin/export.csv"
        with pytest.raises(FetchError, match=r"192\.168\.1\.20.*not a public address"):
            await fetch(source(server.url("/export.csv"), allow_loopback=True, timeout=2), tmp_path)
        assert [path for path, _ in server.requests] == ["/export.csv"]


async def test_a_redirect_to_something_that_is_no_url_is_refused_in_words(tmp_path: Path) -> None:
    # An unclosed IPv6 bracket, a port past 65535: a FetchError in words (httpx's, or ours where
    # urllib raised ValueError), never an "internal error" with a traceback in the log.
    for location in ("http://[fe80::1/x.csv", "http://127.0.0.1:99999/x.csv", "https://[x]:1/x.csv"):
        with export_server() as server:
            server.redirects["/export.csv"] = location
            with pytest.raises(FetchError, match="URL"):
                await fetch(source(server.url("/export.csv"), allow_loopback=True, timeout=2), tmp_path)


async def test_a_source_larger_than_max_bytes_is_refused(tmp_path: Path) -> None:
    with export_server() as server:
        server.files["/big.csv"] = b"email\n" + b"a@gmail.com\n" * 2000
        with pytest.raises(FetchError, match="larger than max_bytes"):
            await fetch(source(server.url("/big.csv"), allow_loopback=True, max_bytes=1000), tmp_path)


def test_settings_refuse_plain_http_and_credentials_in_the_url(db_url: str, nameserver: str) -> None:
    from service.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        recurring(db_url, nameserver, "http://shop.example.com/x.csv", allow_loopback=False, every="5s")
    text = " ".join(refused.value.problems)
    assert "must be https://" in text and "at least a minute" in text
    with pytest.raises(ConfigError, match="user or password"):
        recurring(db_url, nameserver, "https://me:pw@shop.example.com/x.csv")


async def _leave_a_run(settings: Any, started: float, last_beat: float | None) -> None:
    """What a worker SIGKILLed in the middle of an import leaves: its period claimed, `running`,
    and a heartbeat that stopped when the process did."""
    from service.imports.schedule import period_of
    from service.store import imports as sql

    imp = settings.imports["shop"]
    store = await open_store(settings.server.database)
    try:
        run_id = await store.write(
            lambda tx: sql.claim_period(tx, "shop", period_of(imp, started), imp.source, started)
        )
        assert run_id is not None
        if last_beat is not None:
            await store.write(lambda tx: sql.beat(tx, run_id, last_beat))
    finally:
        await store.close()


async def test_a_run_whose_process_was_killed_is_recorded_failed_and_its_period_runs_again(
    db_url: str, nameserver: str
) -> None:
    with export_server() as server:
        server.files["/export.csv"] = EXPORT.encode()
        settings = recurring(db_url, nameserver, server.url("/export.csv"))
        now = time.time()
        await _leave_a_run(settings, started=now - 600, last_beat=now - 360)
        assert await scheduler_run(settings, now) == ["shop"]
    killed, again = rows(db_url, "SELECT state, error, rows_read, heartbeat_at FROM import_runs ORDER BY id")
    assert killed[0] == "failed" and "the process running it stopped without finishing" in killed[1]
    assert again[:3] == ("done", None, 2) and again[3] is not None  # the new run said it was alive
    [(kind, payload)] = rows(db_url, "SELECT kind, payload FROM outbox")
    assert kind == "import_alert_email" and "stopped before it finished; it runs again now" in payload


async def test_a_run_still_beating_is_left_to_its_process(db_url: str, nameserver: str) -> None:
    with export_server() as server:
        server.files["/export.csv"] = EXPORT.encode()
        settings = recurring(db_url, nameserver, server.url("/export.csv"))
        now = time.time()
        await _leave_a_run(settings, started=now - 3600, last_beat=now - 60)  # long, but alive
        assert await scheduler_run(settings, now) == []
    assert server.requests == []
    assert rows(db_url, "SELECT state FROM import_runs") == [("running",)]
    assert rows(db_url, "SELECT count(*) FROM outbox") == [(0,)]


async def test_a_running_import_beats_until_it_ends(db_url: str, nameserver: str) -> None:
    from service.imports.session import heartbeat
    from service.store import imports as sql

    settings = recurring(db_url, nameserver, "https://shop.example.com/x.csv")
    store = await open_store(settings.server.database)
    try:
        started = time.time()
        run_id = await store.write(lambda tx: sql.start_run(tx, "shop", "test", "x.csv", started))
        async with heartbeat(store, run_id, every=0.05):

            def beat() -> float | None:
                [(at,)] = rows(db_url, "SELECT heartbeat_at FROM import_runs")
                return at  # type: ignore[no-any-return]

            first = await wait_for(beat, what="the first beat")
            second = await wait_for(lambda: (beat() or 0) > first and beat(), what="a second beat")
        assert started <= first < second
        await asyncio.sleep(0.2)  # a beat already on its way may land
        last = beat()
        await asyncio.sleep(0.3)
        assert beat() == last  # the import ended: no more beats
    finally:
        await store.close()


async def test_a_killed_manual_import_is_noticed_by_a_worker_with_no_recurring_imports(
    db_url: str, nameserver: str
) -> None:
    # `optin import FILE` killed mid-run, on a service that schedules no import of its own: the
    # run used to stay `running` in the admin's list for ever.
    from dataclasses import replace

    from service.store import imports as sql
    from tests.support.app_server import base_config, make_settings, serve

    def configure(url: str) -> Any:
        raw = base_config(db_url, url, nameserver, server={"owner_email": "owner@example.com"})
        return replace(make_settings(raw), import_tick_seconds=0.1)

    store = await open_store(db_url)
    try:
        started = time.time() - 600
        await store.write(lambda tx: sql.start_run(tx, "members.csv", "cli", "members.csv", started))
    finally:
        await store.close()
    async with serve(configure, role="worker"):

        def noticed() -> bool:
            return rows(db_url, "SELECT state FROM import_runs") == [("failed",)]

        await wait_for(noticed, what="the silent run recorded failed")
    [(error,)] = rows(db_url, "SELECT error FROM import_runs")
    assert "the process running it stopped without finishing" in error
    [(payload,)] = rows(db_url, "SELECT payload FROM outbox WHERE kind = 'import_alert_email'")
    assert "run it again with `optin import`" in payload
