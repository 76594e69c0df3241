"""Kit connector over real HTTP against the fake, every request checked by the spec."""

from __future__ import annotations

import pytest

from service.connectors.kit import KitConnector
from service.connectors.registry import build_connector
from service.errors import ConfigError, ConnectorError
from tests.connectors.sample import ANN, person
from tests.fake_esps.kit import FakeKit


def make(fake: FakeKit, **options: object) -> KitConnector:
    table: dict[str, object] = {"kind": "kit", "api_key": fake.api_key, "form_id": str(fake.form_id)}
    table.update(
        {"base_url": fake.base_url, "fields": {"last_name": "Last name", "company": "Company"}, **options}
    )
    connector = build_connector("kit", table)
    assert isinstance(connector, KitConnector)
    return connector


async def test_new_subscriber_joins_form_and_tags(kit: FakeKit) -> None:
    connector = make(kit, tags=["71"], tag_map={"spring": "72"})
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    sub = kit.by_email(ANN.email)
    assert sub is not None and sub["first_name"] == "Ann" and sub["state"] == "active"
    assert sub["fields"] == {"Last name": "Lee", "Company": "Acme"}
    assert kit.form_members[kit.form_id] == {sub["id"]} and kit.tagged == {71: {sub["id"]}, 72: {sub["id"]}}
    assert kit.requests_to("POST", "/forms/")[0].body["referrer"] == "https://example.org/news"
    assert result.remote_id == str(sub["id"]) and "created and added to form" in result.detail


async def test_cancelled_subscriber_is_not_brought_back(kit: FakeKit) -> None:
    kit.add(ANN.email, state="cancelled", first_name="Old")
    connector = make(kit, tags=["71"])
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    sub = kit.by_email(ANN.email)
    assert sub is not None and sub["state"] == "cancelled" and sub["first_name"] == "Ann"
    assert not kit.requests_to("POST", "/forms/") and not kit.requests_to("POST", "/tags/")
    assert "'cancelled'" in result.detail


async def test_policies(kit: FakeKit) -> None:
    kit.add("old@example.org", first_name="Old")
    add_only, update_only = make(kit, policy="add_only"), make(kit, policy="update_only")
    kept = await add_only.upsert(person("old@example.org"), idempotency_key="a")
    skipped = await update_only.upsert(person("new@example.org"), idempotency_key="b")
    old_name = (kit.by_email("old@example.org") or {})["first_name"]
    updated = await update_only.upsert(person("old@example.org"), idempotency_key="c")
    for c in (add_only, update_only):
        await c.aclose()
    assert "left unchanged" in kept.detail and old_name == "Old"
    assert "not added" in skipped.detail and kit.by_email("new@example.org") is None
    assert "updated" in updated.detail and (kit.by_email("old@example.org") or {})["first_name"] == "Ann"


async def test_unsubscribe_and_check(kit: FakeKit) -> None:
    kit.add(ANN.email)
    connector = make(kit)
    info = await connector.check()
    await connector.unsubscribe(ANN, idempotency_key="u")
    again = await connector.unsubscribe(ANN, idempotency_key="u")
    tags_only = make(kit, form_id="", tags=["71"])
    account = await tags_only.check()
    for c in (connector, tags_only):
        await c.aclose()
    assert "'Newsletter signup'" in info.detail and "'Example'" in account.detail
    assert (kit.by_email(ANN.email) or {})["state"] == "cancelled" and "already" in again.detail


async def test_throttled_waits_a_minute(kit: FakeKit) -> None:
    kit.fail_next(429)
    connector = make(kit)
    with pytest.raises(ConnectorError) as caught:
        await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert caught.value.code == 429 and not caught.value.permanent and caught.value.retry_after == 60
    assert "Retry later" in caught.value.detail


@pytest.mark.parametrize(("status", "permanent"), [(401, True), (500, False)])
async def test_errors_keep_kits_words(kit: FakeKit, status: int, permanent: bool) -> None:
    kit.fail_next(status)
    connector = make(kit)
    with pytest.raises(ConnectorError) as caught:
        await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert caught.value.code == status and caught.value.permanent is permanent


async def test_real_refusals_are_permanent(kit: FakeKit) -> None:
    errors = []
    for connector, who in (
        (make(kit, api_key="wrong"), ANN),
        (make(kit, form_id="9"), ANN),
        (make(kit), person("not-an-address")),
    ):
        with pytest.raises(ConnectorError) as caught:
            await connector.upsert(who, idempotency_key="k")
        errors.append(caught.value)
        await connector.aclose()
    assert [e.code for e in errors] == [401, 404, 422] and all(e.permanent for e in errors)
    assert "access token is invalid" in errors[0].detail and "Email address is invalid" in errors[2].detail
    unknown = make(kit, form_id="9")
    with pytest.raises(ConnectorError, match="no form 9"):
        await unknown.check()
    await unknown.aclose()


def test_options_are_checked_in_words() -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("kit", {"kind": "kit", "api_key": "k", "tags": ["news"]})
    assert "numeric ids" in str(caught.value)
    with pytest.raises(ConfigError, match="needs form_id or tags"):
        build_connector("kit", {"kind": "kit", "api_key": "k"})
