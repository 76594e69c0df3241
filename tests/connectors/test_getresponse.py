"""GetResponse connector over real HTTP against the fake, every request checked by the spec."""

from __future__ import annotations

import pytest

from service.connectors.getresponse import GetResponseConnector
from service.connectors.registry import build_connector
from service.errors import ConfigError, ConnectorError
from tests.connectors.sample import ANN, person
from tests.fake_esps.getresponse import FakeGetResponse


def make(fake: FakeGetResponse, **options: object) -> GetResponseConnector:
    table: dict[str, object] = {
        "kind": "getresponse",
        "api_key": fake.api_key,
        "campaign_id": fake.campaign_id,
    }
    table.update({"base_url": fake.base_url, "fields": {"company": "pY7c"}, **options})
    connector = build_connector("gr", table)
    assert isinstance(connector, GetResponseConnector)
    return connector


async def test_new_contact_is_accepted_with_fields_tags_and_cycle(getresponse: FakeGetResponse) -> None:
    connector = make(getresponse, day_of_cycle=0, tags=["tg1"], tag_map={"spring": "tg2"})
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    contact = getresponse.in_campaign(ANN.email)
    assert contact is not None and contact["name"] == "Ann Lee" and contact["dayOfCycle"] == "0"
    assert contact["customFieldValues"] == [{"customFieldId": "pY7c", "value": ["Acme"]}]
    assert contact["tags"] == ["tg1", "tg2"] and contact["ipAddress"] == "198.51.100.8"
    assert "accepted" in result.detail


async def test_day_of_cycle_only_when_the_form_asks(getresponse: FakeGetResponse) -> None:
    connector = make(getresponse)
    await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert "dayOfCycle" not in getresponse.requests_to("POST", "/contacts")[0].body


async def test_existing_contact_is_updated_on_409(getresponse: FakeGetResponse) -> None:
    getresponse.add(ANN.email, name="Old")
    connector = make(getresponse)
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    contact = getresponse.in_campaign(ANN.email)
    assert contact is not None and contact["name"] == "Ann Lee" and result.remote_id == contact["contactId"]
    assert [s.method for s in getresponse.seen] == ["POST", "GET", "POST"]


async def test_policies(getresponse: FakeGetResponse) -> None:
    getresponse.add("old@example.org", name="Old")
    add_only, update_only = make(getresponse, policy="add_only"), make(getresponse, policy="update_only")
    kept = await add_only.upsert(person("old@example.org"), idempotency_key="a")
    skipped = await update_only.upsert(person("new@example.org"), idempotency_key="b")
    kept_name = (getresponse.in_campaign("old@example.org") or {})["name"]
    updated = await update_only.upsert(person("old@example.org"), idempotency_key="c")
    for c in (add_only, update_only):
        await c.aclose()
    assert "left unchanged" in kept.detail and kept_name == "Old"
    assert "not added" in skipped.detail and getresponse.in_campaign("new@example.org") is None
    assert (
        "updated" in updated.detail
        and (getresponse.in_campaign("old@example.org") or {})["name"] == "Ann Lee"
    )


async def test_blocked_unsubscriber_is_not_readded(getresponse: FakeGetResponse) -> None:
    getresponse.blocked.add(ANN.email.lower())
    connector = make(getresponse)
    result = await connector.upsert(ANN, idempotency_key="k")
    batch = await connector.upsert_many([(ANN, "k2")])
    await connector.aclose()
    assert "blocked" in result.detail and getresponse.in_campaign(ANN.email) is None
    assert len(batch) == 1 and getresponse.in_campaign(ANN.email) is None


async def test_batch_imports_up_to_a_thousand_in_one_call(getresponse: FakeGetResponse) -> None:
    getresponse.add("p0@example.org", name="Old")
    connector = make(getresponse)
    results = await connector.upsert_many([(person(f"p{i}@example.org"), f"k{i}") for i in range(20)])
    await connector.aclose()
    assert len(getresponse.requests_to("POST", "/batch")) == 1 and len(getresponse.contacts) == 20
    assert all(not isinstance(r, ConnectorError) for r in results)
    assert (getresponse.in_campaign("p0@example.org") or {})["name"] == "Ann Lee"


async def test_batch_with_per_contact_calls_stops_when_throttled(getresponse: FakeGetResponse) -> None:
    connector = make(getresponse, policy="add_only")
    getresponse.fail_next(429, path_contains="/contacts")
    results = await connector.upsert_many([(person(f"p{i}@example.org"), f"k{i}") for i in range(3)])
    await connector.aclose()
    assert all(isinstance(r, ConnectorError) and r.code == 429 for r in results)
    assert len(getresponse.seen) == 1


async def test_unsubscribe_and_check(getresponse: FakeGetResponse) -> None:
    getresponse.add(ANN.email)
    connector = make(getresponse)
    info = await connector.check()
    await connector.unsubscribe(ANN, idempotency_key="u")
    again = await connector.unsubscribe(ANN, idempotency_key="u")
    await connector.aclose()
    assert "'newsletter'" in info.detail and getresponse.in_campaign(ANN.email) is None
    assert "nothing to" in again.detail


@pytest.mark.parametrize(
    ("status", "permanent", "words"),
    [(401, True, "Unable to authenticate"), (429, False, "Throttling"), (503, False, "Service unavailable")],
)
async def test_errors_keep_getresponses_words(
    getresponse: FakeGetResponse, status: int, permanent: bool, words: str
) -> None:
    getresponse.fail_next(status)
    connector = make(getresponse)
    with pytest.raises(ConnectorError) as caught:
        await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert (
        caught.value.code == status and caught.value.permanent is permanent and words in caught.value.detail
    )
    if status == 429:
        assert caught.value.retry_after == 598  # X-RateLimit-Reset: "598 seconds"


async def test_real_refusals_are_permanent(getresponse: FakeGetResponse) -> None:
    errors = []
    for options in ({"api_key": "wrong"}, {"campaign_id": "nope"}, {"fields": {"company": "zzz"}}):
        connector = make(getresponse, **options)
        with pytest.raises(ConnectorError) as caught:
            await connector.upsert(ANN, idempotency_key="k")
        errors.append(caught.value)
        await connector.aclose()
    assert [e.code for e in errors] == [401, 400, 400] and all(e.permanent for e in errors)
    assert "campaign not found" in errors[1].detail and "custom field zzz" in errors[2].detail
    unknown = make(getresponse, campaign_id="nope")
    with pytest.raises(ConnectorError, match="Resource not found") as caught404:
        await unknown.check()
    await unknown.aclose()
    assert caught404.value.permanent and getresponse.contacts == {}


def test_options_are_checked_in_words() -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("gr", {"kind": "getresponse", "api_key": "k", "day_of_cycle": "soon"})
    assert "campaign_id is missing" in str(caught.value) and "day_of_cycle" in str(caught.value)
