"""Brevo connector over real HTTP against the fake, every request checked by the spec."""

from __future__ import annotations

import pytest

from service.connectors.brevo import BrevoConnector
from service.connectors.registry import build_connector
from service.errors import ConfigError, ConnectorError
from tests.connectors.sample import ANN, person
from tests.fake_esps.brevo import FakeBrevo


def make(fake: FakeBrevo, **options: object) -> BrevoConnector:
    table: dict[str, object] = {"kind": "brevo", "api_key": fake.api_key, "list_id": fake.list_id}
    table.update({"base_url": fake.base_url, **options})
    connector = build_connector("brevo", table)
    assert isinstance(connector, BrevoConnector)
    return connector


async def test_upsert_creates_contact_in_list_with_attributes(brevo: FakeBrevo) -> None:
    brevo.attributes.add("COMPANY")
    connector = make(brevo, fields={"company": "COMPANY"})
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    contact = brevo.contacts[ANN.email.lower()]
    assert contact["attributes"] == {"FIRSTNAME": "Ann", "LASTNAME": "Lee", "COMPANY": "Acme"}
    assert contact["listIds"] == {brevo.list_id}
    sent = brevo.requests_to("POST", "/v3/contacts")[0].body
    assert sent["updateEnabled"] is True and "emailBlacklisted" not in sent
    assert result.remote_id == str(contact["id"]) and "created" in result.detail


async def test_blacklisted_contact_stays_blacklisted(brevo: FakeBrevo) -> None:
    brevo.add(ANN.email, blacklisted=True, FIRSTNAME="Old")
    connector = make(brevo)
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    contact = brevo.contacts[ANN.email.lower()]
    assert contact["emailBlacklisted"] is True and contact["attributes"]["FIRSTNAME"] == "Ann"
    assert "unsubscribe status kept" in result.detail


async def test_add_only_and_update_only(brevo: FakeBrevo) -> None:
    brevo.add("old@example.org", FIRSTNAME="Old")
    add_only, update_only = make(brevo, policy="add_only"), make(brevo, policy="update_only")
    kept = await add_only.upsert(person("old@example.org"), idempotency_key="a")
    added = await add_only.upsert(person("new@example.org"), idempotency_key="b")
    skipped = await update_only.upsert(person("other@example.org"), idempotency_key="c")
    updated = await update_only.upsert(person("old@example.org", first_name="Ada"), idempotency_key="d")
    for c in (add_only, update_only):
        await c.aclose()
    assert "left unchanged" in kept.detail and "created" in added.detail
    assert "not added" in skipped.detail and "other@example.org" not in brevo.contacts
    assert "updated" in updated.detail
    assert brevo.contacts["old@example.org"]["attributes"]["FIRSTNAME"] == "Ada"
    assert "updateEnabled" not in brevo.requests_to("POST")[0].body


async def test_unsubscribe_unlinks_the_list_and_check_reports_it(brevo: FakeBrevo) -> None:
    brevo.add(ANN.email, lists=(brevo.list_id,))
    connector = make(brevo)
    info = await connector.check()
    await connector.unsubscribe(ANN, idempotency_key="u")
    await connector.aclose()
    assert "'Newsletter'" in info.detail and "1 contacts" in info.detail
    assert brevo.contacts[ANN.email.lower()]["listIds"] == set()
    assert brevo.contacts[ANN.email.lower()]["emailBlacklisted"] is False


@pytest.mark.parametrize(
    ("status", "permanent", "words"),
    [
        (401, True, "Key not found"),
        (404, True, "List ID does not exist"),
        (429, False, "rate limit"),
        (500, False, "Internal server error"),
    ],
)
async def test_errors_keep_brevos_words(brevo: FakeBrevo, status: int, permanent: bool, words: str) -> None:
    brevo.fail_next(status)
    connector = make(brevo)
    with pytest.raises(ConnectorError) as caught:
        await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert (
        caught.value.code == status and caught.value.permanent is permanent and words in caught.value.detail
    )
    if status == 429:
        assert caught.value.retry_after == 3  # x-sib-ratelimit-reset, in seconds


async def test_real_refusals_are_permanent(brevo: FakeBrevo) -> None:
    bad_key, bad_list = make(brevo, api_key="wrong"), make(brevo, list_id=99)
    bad_field = make(brevo, fields={"company": "COMPANY"})
    errors = []
    for connector in (bad_key, bad_list, bad_field):
        with pytest.raises(ConnectorError) as caught:
            await connector.upsert(ANN, idempotency_key="k")
        errors.append(caught.value)
        await connector.aclose()
    assert [e.code for e in errors] == [401, 404, 400] and all(e.permanent for e in errors)
    assert "Attribute COMPANY does not exist" in errors[2].detail
    assert brevo.contacts == {}


def test_options_are_checked_in_words() -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("b", {"kind": "brevo", "list_id": "news", "tags": ["x"]})
    text = str(caught.value)
    assert "connectors.b.api_key is missing" in text and "numeric list id" in text and "no tags" in text
