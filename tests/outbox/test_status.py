"""Connector health in the store, the alert decision, and `optin connectors status|test`."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service import jobs
from service.connectors.status import CallOutcome, HealthBook, connectors_health
from service.store import Job, Store, open_store
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.support.app_server import SECRET

REPO = Path(__file__).resolve().parents[2]
DOWN = CallOutcome(failure="Mailchimp answered 503 Service Unavailable: busy", failed_call=True)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await open_store(db_url)
    try:
        yield opened
    finally:
        await opened.close()


async def alert_jobs(store: Store) -> list[Job]:
    return [j for j in await store.jobs() if j.kind == jobs.ALERT_EMAIL]


async def test_a_connector_goes_down_alerts_once_an_hour_and_recovers(store: Store) -> None:
    book = HealthBook(store, "owner@example.com", "News <news@example.com>")
    now = 1_800_000_000.0
    reasons = [await book.record("esp", DOWN, now + i) for i in range(8)]
    assert reasons[:4] == [None] * 4 and reasons[4] is not None and "down" in reasons[4]
    assert reasons[5:] == [None] * 3  # still down, but alerted less than an hour ago
    health = (await connectors_health(store))["esp"]
    assert health["state"] == "down" and health["consecutive_failures"] == 8
    assert health["last_failure"] == "Mailchimp answered 503 Service Unavailable: busy"
    [alert] = await alert_jobs(store)
    assert alert.payload["connector"] == "esp" and "busy" in alert.payload["detail"]

    assert await book.record("esp", DOWN, now + 3700) is not None  # an hour later: again
    assert len(await alert_jobs(store)) == 2
    await book.record("esp", CallOutcome(succeeded=1, success="on the list"), now + 3800)
    health = await connectors_health(store, names=("esp", "unused"))
    assert health["esp"]["state"] == "ok" and health["esp"]["consecutive_failures"] == 0
    assert health["unused"]["state"] == "ok" and health["unused"]["last_success_at"] is None


async def test_a_dead_letter_alerts_at_once_and_without_owner_is_only_logged(store: Store) -> None:
    quiet = HealthBook(store, "", "News <news@example.com>")
    dead = CallOutcome(failure="Mailchimp answered 401: API Key Invalid", failed_call=True, dead=1)
    assert await quiet.record("esp", dead) is not None
    assert await alert_jobs(store) == []
    assert (await connectors_health(store))["esp"]["dead_letters"] == 1


async def test_a_rate_limit_holds_the_queue_without_counting_as_down(store: Store) -> None:
    now = time.time()
    await store.write(lambda tx: tx.enqueue(jobs.connector_upsert(1, "esp", "tok"), now))
    book = HealthBook(store, "owner@example.com", "News <news@example.com>")
    throttled = CallOutcome(failure="429", failed_call=True, throttled=True, pause_until=now + 30)
    for _ in range(6):
        await book.record("esp", throttled, now)
    health = (await connectors_health(store))["esp"]
    assert health["state"] == "failing" and health["consecutive_failures"] == 0
    assert health["paused_until"] is not None
    [job] = await store.jobs()
    assert job.run_at == pytest.approx(now + 30)


async def optin(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *["-m", "service", *args],
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def config(tmp: Path, fake: FakeMailchimp, api_key: str) -> str:
    path = tmp / "optin.toml"
    path.write_text(
        f"""[server]
secret_key = "{SECRET}"
database = "sqlite:///{tmp / "optin.db"}"
owner_email = "owner@example.com"
[forms.newsletter]
connector = "esp"
[forms.plain]
[connectors.esp]
kind = "mailchimp"
api_key = "{api_key}"
list_id = "{fake.list_id}"
base_url = "{fake.base_url}"
""",
        encoding="utf-8",
    )
    return str(path)


async def test_connectors_test_and_status_commands(tmp_path: Path, db_url: str) -> None:
    fake = FakeMailchimp()
    await fake.start()
    try:
        good = config(tmp_path, fake, fake.api_key)
        code, out = await optin("--config", good, "connectors", "test", "newsletter")
        assert code == 0, out
        assert "Mailchimp audience 'Newsletter' is reachable" in out
        member = fake.member("optin-test@example.com")
        assert member is not None and member["merge_fields"]["LNAME"] == "test contact (safe to delete)"
        assert "OK — on the Mailchimp list as subscribed" in out

        code, out = await optin("--config", good, "connectors", "test", "plain")
        assert code == 0 and "built-in list is always available" in out

        bad = config(tmp_path, fake, "wrong-us1")
        code, out = await optin("--config", bad, "connectors", "test", "newsletter")
        assert code == 1
        assert "FAILED (permanent" in out and "API Key Invalid" in out
    finally:
        await fake.stop()

    code, out = await optin("--config", good, "connectors", "status")
    assert code == 0 and "esp (mailchimp; forms: newsletter): OK" in out and "last success: never" in out
    store = await open_store(f"sqlite:///{tmp_path / 'optin.db'}")
    try:
        book = HealthBook(store, "", "News <news@example.com>")
        for _ in range(5):
            await book.record("esp", DOWN)
    finally:
        await store.close()
    code, out = await optin("--config", good, "connectors", "status")
    assert code == 1
    assert "esp (mailchimp; forms: newsletter): DOWN" in out
    assert "Mailchimp answered 503 Service Unavailable: busy" in out and "failed calls in a row: 5" in out
