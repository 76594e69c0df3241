"""The three policies against our list and a fake Mailchimp (contacts already there, unsubscribed
there), through the real service's outbox; --reconfirm emails within the per-inbox budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.imports.support import run_import
from tests.support.app_server import serve, wait_for
from tests.support.esp_service import TimedMailchimp, esp_settings, jobs_of, mailchimp_table, settled
from tests.support.relay import Relay

UPSERT = "connector_upsert"


@pytest.fixture
async def fake() -> AsyncIterator[TimedMailchimp]:
    esp = TimedMailchimp()
    await esp.start()
    try:
        yield esp
    finally:
        await esp.stop()


@pytest.mark.parametrize("policy", ["add_update", "add_only", "update_only"])
async def test_policies_against_our_list_and_the_esp(
    policy: str,
    fake: TimedMailchimp,
    starttls_relay: Relay,
    ca_file: str,
    nameserver: str,
    db_url: str,
    tmp_path: Path,
) -> None:
    fake.add("old@example.org", FNAME="Old")  # at the ESP already
    fake.add("gone@example.org", status="unsubscribed", FNAME="Gone")  # unsubscribed there
    configure = esp_settings(db_url, nameserver, starttls_relay, ca_file, mailchimp_table(fake))
    async with serve(configure) as (_, settings):
        first = tmp_path / "first.csv"
        first.write_text("email,first name\nours@example.org,Ours\n", encoding="utf-8")
        await run_import(settings, first, policy="add_update")  # one contact already on our list
        await wait_for(lambda: settled(db_url, UPSERT, 1), timeout=30, what="the first upsert")
        export = tmp_path / "export.csv"
        export.write_text(
            "email,first name\nnew@example.org,New\nold@example.org,Fresh\ngone@example.org,Fresh\nours@example.org,Renamed\n",
            encoding="utf-8",
        )
        summary = await run_import(settings, export, policy=policy)
        jobs = {"add_update": 4, "add_only": 3, "update_only": 1}[policy]
        await wait_for(lambda: settled(db_url, UPSERT, 1 + jobs), timeout=30, what="the list updates")

    assert [state for state, *_ in jobs_of(db_url, UPSERT)] == ["done"] * (1 + jobs)
    new, old, gone, ours = (
        fake.member(e) for e in ("new@example.org", "old@example.org", "gone@example.org", "ours@example.org")
    )
    assert ours is not None
    if policy == "update_only":
        # only contacts on our list are updated; nobody new is added, here or at the ESP
        assert summary.outcomes["updated"] == 1 and new is None
        assert ours["merge_fields"]["FNAME"] == "Renamed"
        assert old is not None and old["merge_fields"]["FNAME"] == "Old"
    elif policy == "add_only":
        assert summary.outcomes["added"] == 3 and summary.outcomes["unchanged"] == 1
        assert new is not None and new["status"] == "subscribed"
        assert ours["merge_fields"]["FNAME"] == "Ours"  # left unchanged here and there
        assert old is not None and old["merge_fields"]["FNAME"] == "Old"  # the ESP's add_only too
    else:
        assert summary.outcomes["added"] == 3 and summary.outcomes["updated"] == 1
        assert new is not None and new["status"] == "subscribed"
        assert ours["merge_fields"]["FNAME"] == "Renamed"
        assert old is not None and old["merge_fields"]["FNAME"] == "Fresh"
    # unsubscribed at the ESP: never resubscribed, whatever the policy
    assert gone is None or gone["status"] == "unsubscribed"


async def test_reconfirm_sends_double_opt_in_emails_within_the_budget(
    starttls_relay: Relay, ca_file: str, nameserver: str, db_url: str, tmp_path: Path
) -> None:
    configure = esp_settings(db_url, nameserver, starttls_relay, ca_file, {"kind": "builtin"})

    def strict(url: str):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        settings = configure(url)
        return replace(settings, limits=replace(settings.limits, emails_per_address_day=1))

    async with serve(strict) as (_, settings):
        export = tmp_path / "export.csv"
        export.write_text("email\nann@example.org\nbo@example.org\n", encoding="utf-8")
        first = await run_import(settings, export, reconfirm=True)
        assert first.outcomes["asked"] == 2
        await wait_for(
            lambda: starttls_relay.to("ann@example.org") and starttls_relay.to("bo@example.org"), timeout=30
        )
        # the same file again the same day: the inbox's budget is spent, nothing more is sent
        report = tmp_path / "again.csv"
        again = await run_import(settings, export, report, reconfirm=True)
        assert again.outcomes["asked"] == 0 and again.outcomes["not_imported"] == 2
        assert "budget" in report.read_text(encoding="utf-8")
    assert len(starttls_relay.to("ann@example.org")) == 1
    from tests.support.db import rows

    assert {s for (s,) in rows(db_url, "SELECT status FROM contacts")} == {"pending"}
