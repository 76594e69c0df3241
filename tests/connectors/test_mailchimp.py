"""Mailchimp connector over real HTTP against the fake, every request checked by the spec."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from service.connectors.mailchimp import MailchimpConnector
from service.connectors.registry import build_connector
from service.errors import ConfigError, ConnectorError
from tests.connectors.sample import ANN, person
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.fake_esps.server import Fault


def make(fake: FakeMailchimp, **options: object) -> MailchimpConnector:
    table: dict[str, object] = {
        "kind": "mailchimp",
        "api_key": fake.api_key,
        "list_id": fake.list_id,
        "base_url": fake.base_url,
    }
    table.update(options)
    connector = build_connector("mc", table)
    assert isinstance(connector, MailchimpConnector)
    return connector


async def test_upsert_creates_subscribed_member_with_fields_consent_and_tags(
    mailchimp: FakeMailchimp,
) -> None:
    mc = make(mailchimp, fields={"company": "COMPANY"}, tags=["website"])
    mailchimp.lists[mailchimp.list_id].merge_fields.add("COMPANY")
    result = await mc.upsert(ANN, idempotency_key="k1")
    await mc.aclose()

    member = mailchimp.member(ANN.email)
    assert member is not None
    assert member["status"] == "subscribed"
    assert member["merge_fields"] == {"FNAME": "Ann", "LNAME": "Lee", "COMPANY": "Acme"}
    assert member["ip_opt"] == "198.51.100.8" and member["timestamp_opt"].startswith("2026-01-02T03:09:00")
    assert member["language"] == "en"
    assert member["tags"] == ["website", "spring"]
    put = mailchimp.requests_to("PUT")[0]
    assert put.path.endswith(hashlib.md5(b"ann.lee@example.org", usedforsecurity=False).hexdigest())
    assert put.body["status_if_new"] == "subscribed" and "status" not in put.body
    assert "subscribed" in result.detail and result.remote_id == member["id"]


async def test_member_who_unsubscribed_is_not_resubscribed(mailchimp: FakeMailchimp) -> None:
    mailchimp.add(ANN.email, status="unsubscribed", FNAME="Old")
    mc = make(mailchimp)
    result = await mc.upsert(ANN, idempotency_key="k1")
    await mc.aclose()

    member = mailchimp.member(ANN.email)
    assert member is not None and member["status"] == "unsubscribed"
    assert member["merge_fields"]["FNAME"] == "Ann"
    assert member["tags"] == []
    assert "not resubscribed" in result.detail


async def test_add_only_leaves_existing_members_alone(mailchimp: FakeMailchimp) -> None:
    mailchimp.add("old@example.org", FNAME="Old")
    mc = make(mailchimp, policy="add_only")
    added = await mc.upsert(person("new@example.org"), idempotency_key="a")
    kept = await mc.upsert(person("old@example.org"), idempotency_key="b")
    await mc.aclose()

    assert mailchimp.member("new@example.org") is not None
    assert "added" in added.detail
    old = mailchimp.member("old@example.org")
    assert old is not None and old["merge_fields"] == {"FNAME": "Old"}
    assert "left unchanged" in kept.detail


async def test_update_only_touches_existing_members_only(mailchimp: FakeMailchimp) -> None:
    mailchimp.add("old@example.org", status="unsubscribed", FNAME="Old")
    mc = make(mailchimp, policy="update_only")
    skipped = await mc.upsert(person("new@example.org"), idempotency_key="a")
    updated = await mc.upsert(person("old@example.org"), idempotency_key="b")
    await mc.aclose()

    assert mailchimp.member("new@example.org") is None
    assert "not added" in skipped.detail
    old = mailchimp.member("old@example.org")
    assert old is not None and old["merge_fields"]["FNAME"] == "Ann" and old["status"] == "unsubscribed"
    assert "not resubscribed" in updated.detail


async def test_unsubscribe_sets_status(mailchimp: FakeMailchimp) -> None:
    mailchimp.add(ANN.email)
    mc = make(mailchimp)
    await mc.unsubscribe(ANN, idempotency_key="u")
    gone = await mc.unsubscribe(person("nobody@example.org"), idempotency_key="u2")
    await mc.aclose()
    member = mailchimp.member(ANN.email)
    assert member is not None and member["status"] == "unsubscribed"
    assert "not on the" in gone.detail


async def test_check_reports_the_audience(mailchimp: FakeMailchimp) -> None:
    mailchimp.add("x@example.org")
    mc = make(mailchimp)
    result = await mc.check()
    await mc.aclose()
    assert "'Newsletter'" in result.detail and "1 members" in result.detail


@pytest.mark.parametrize(
    ("status", "permanent", "words"),
    [
        (401, True, "API Key Invalid"),
        (404, True, "Resource Not Found"),
        (429, False, "simultaneous connections"),
        (500, False, "Internal Server Error"),
        (503, False, "Service Unavailable"),
    ],
)
async def test_errors_keep_mailchimps_words(
    mailchimp: FakeMailchimp, status: int, permanent: bool, words: str
) -> None:
    mailchimp.fail_next(status)
    mc = make(mailchimp)
    with pytest.raises(ConnectorError) as caught:
        await mc.upsert(ANN, idempotency_key="k")
    await mc.aclose()
    assert caught.value.code == status and caught.value.permanent is permanent
    assert words in caught.value.detail


async def test_bad_key_unknown_list_and_invalid_field_are_permanent(mailchimp: FakeMailchimp) -> None:
    wrong_key = make(mailchimp, api_key="nope-us21")
    with pytest.raises(ConnectorError, match="API Key Invalid") as bad_key:
        await wrong_key.check()
    unknown = make(mailchimp, list_id="zzz")
    with pytest.raises(ConnectorError, match="could not be found") as bad_list:
        await unknown.upsert(ANN, idempotency_key="k")
    invalid = make(mailchimp, fields={"company": "NOPE"})
    with pytest.raises(ConnectorError, match="NOPE is not a merge field") as bad_field:
        await invalid.upsert(ANN, idempotency_key="k")
    for c in (wrong_key, unknown, invalid):
        await c.aclose()
    assert [e.value.permanent for e in (bad_key, bad_list, bad_field)] == [True, True, True]
    assert mailchimp.member(ANN.email) is None


async def test_retry_after_header_is_honoured(mailchimp: FakeMailchimp) -> None:
    mailchimp.fail_next(503, headers={"Retry-After": "7"})
    mc = make(mailchimp)
    with pytest.raises(ConnectorError) as caught:
        await mc.upsert(ANN, idempotency_key="k")
    await mc.aclose()
    assert caught.value.retry_after == 7 and not caught.value.permanent


async def test_unreachable_server_is_transient() -> None:
    mc = MailchimpConnector("mc", api_key="k-us1", list_id="l", base_url="http://127.0.0.1:9")
    with pytest.raises(ConnectorError, match="could not be reached") as caught:
        await mc.upsert(ANN, idempotency_key="k")
    await mc.aclose()
    assert not caught.value.permanent


async def test_batch_adds_new_updates_existing_and_never_resubscribes(mailchimp: FakeMailchimp) -> None:
    mailchimp.add("gone@example.org", status="unsubscribed", FNAME="Gone")
    mailchimp.add("kept@example.org", FNAME="Kept")
    mc = make(mailchimp, tags=["website"])
    people = [person(f"new{i}@example.org") for i in range(3)] + [
        person("gone@example.org", first_name="G2"),
        person("kept@example.org", first_name="K2"),
    ]
    results = await mc.upsert_many([(p, f"k{i}") for i, p in enumerate(people)])
    await mc.aclose()

    assert len(mailchimp.requests_to("POST", f"/lists/{mailchimp.list_id}")) >= 1
    batch = [s for s in mailchimp.seen if s.path == f"/3.0/lists/{mailchimp.list_id}"]
    assert len(batch) == 1 and batch[0].body["update_existing"] is False
    assert all(not isinstance(r, ConnectorError) for r in results)
    for i in range(3):
        member = mailchimp.member(f"new{i}@example.org")
        assert (
            member is not None
            and member["status"] == "subscribed"
            and member["tags"] == ["website", "spring"]
        )
    gone = mailchimp.member("gone@example.org")
    kept = mailchimp.member("kept@example.org")
    assert gone is not None and gone["status"] == "unsubscribed" and gone["merge_fields"]["FNAME"] == "G2"
    assert kept is not None and kept["status"] == "subscribed" and kept["merge_fields"]["FNAME"] == "K2"


async def test_batch_reports_per_contact_errors_and_add_only(mailchimp: FakeMailchimp) -> None:
    mailchimp.add("kept@example.org", FNAME="Kept")
    mc = make(mailchimp, policy="add_only", fields={"company": "NOPE"})
    results = await mc.upsert_many([(person("kept@example.org"), "a"), (person("bad@example.org"), "b")])
    await mc.aclose()
    kept, bad = results
    assert not isinstance(kept, ConnectorError) and "left unchanged" in kept.detail
    assert isinstance(bad, ConnectorError) and bad.permanent and "NOPE" in bad.detail


async def test_batch_failing_as_a_whole_raises(mailchimp: FakeMailchimp) -> None:
    mailchimp.fail_next(429)
    mc = make(mailchimp)
    with pytest.raises(ConnectorError) as caught:
        await mc.upsert_many([(ANN, "a")])
    await mc.aclose()
    assert caught.value.code == 429 and not caught.value.permanent


def test_options_are_checked_in_words() -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("mc", {"kind": "mailchimp", "policy": "sometimes"})
    text = str(caught.value)
    assert "connectors.mc.api_key is missing" in text and "connectors.mc.list_id is missing" in text
    assert "policy must be one of add_update, add_only, update_only" in text
    with pytest.raises(ConfigError, match="data centre"):
        build_connector("mc", {"kind": "mailchimp", "api_key": "nodc", "list_id": "l"})


async def test_data_centre_comes_from_the_key() -> None:
    mc = build_connector("mc", {"kind": "mailchimp", "api_key": "abc-us21", "list_id": "l"})
    assert isinstance(mc, MailchimpConnector)
    assert mc.api.client.base_url == httpx.URL("https://us21.api.mailchimp.com/3.0/")
    assert mc.max_concurrency == 10
    await mc.aclose()


async def test_bare_403_under_load_is_retried_but_a_json_403_is_not(mailchimp: FakeMailchimp) -> None:
    mailchimp.fail_next(403)
    mc = make(mailchimp)
    with pytest.raises(ConnectorError) as with_json:
        await mc.upsert(ANN, idempotency_key="k")
    mailchimp.faults.append(Fault(403, {"Content-Type": "text/html"}, None))
    with pytest.raises(ConnectorError) as bare:
        await mc.upsert(ANN, idempotency_key="k")
    await mc.aclose()
    assert with_json.value.permanent and "Forbidden" in with_json.value.detail
    assert not bare.value.permanent and bare.value.code == 403
