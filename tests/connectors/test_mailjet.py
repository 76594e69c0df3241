"""Mailjet connector over real HTTP, checked against Mailjet's documented examples."""

from __future__ import annotations

import pytest

from service.connectors.mailjet import MailjetConnector
from service.connectors.registry import build_connector
from service.errors import ConfigError, ConnectorError
from tests.connectors import mailjet_docs
from tests.connectors.sample import ANN, person
from tests.fake_esps.mailjet import MESSAGES, FakeMailjet


def make(fake: FakeMailjet, **options: object) -> MailjetConnector:
    table: dict[str, object] = {"kind": "mailjet", "api_key": fake.api_key, "secret_key": fake.secret_key}
    table.update({"list_id": str(fake.list_id), "base_url": fake.base_url, **options})
    connector = build_connector("mj", table)
    assert isinstance(connector, MailjetConnector)
    return connector


async def test_upsert_defines_missing_properties_then_adds_with_addnoforce(mailjet: FakeMailjet) -> None:
    connector = make(mailjet, fields={"company": "company"})
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.upsert(person("b@example.org"), idempotency_key="k2")
    await connector.aclose()
    contact = mailjet.contacts[ANN.email.lower()]
    assert contact["Name"] == "Ann Lee"
    assert contact["Properties"] == {"firstname": "Ann", "lastname": "Lee", "company": "Acme"}
    defined = [s.body["Name"] for s in mailjet.requests_to("POST", "/contactmetadata")]
    assert defined == ["lastname", "company"]  # firstname existed; defined once per connector
    assert len(mailjet.requests_to("GET", "/contactmetadata")) == 1
    assert mailjet.requests_to("POST", "/managecontact")[0].body["Action"] == "addnoforce"
    assert (
        result.remote_id == str(contact["ID"])
        and mailjet.unsub[(ANN.email.lower(), mailjet.list_id)] is False
    )


async def test_unsubscribed_contact_stays_unsubscribed(mailjet: FakeMailjet) -> None:
    mailjet.add(ANN.email, unsubscribed=True)
    connector = make(mailjet)
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert mailjet.unsub[(ANN.email.lower(), mailjet.list_id)] is True
    assert mailjet.contacts[ANN.email.lower()]["Properties"]["firstname"] == "Ann"
    assert "unsubscribe is kept" in result.detail


async def test_policies(mailjet: FakeMailjet) -> None:
    mailjet.add("old@example.org", firstname="Old")
    add_only, update_only = make(mailjet, policy="add_only"), make(mailjet, policy="update_only")
    kept = await add_only.upsert(person("old@example.org"), idempotency_key="a")
    skipped = await update_only.upsert(person("new@example.org"), idempotency_key="b")
    added = await add_only.upsert(person("new@example.org"), idempotency_key="c")
    for c in (add_only, update_only):
        await c.aclose()
    assert (
        "left unchanged" in kept.detail
        and mailjet.contacts["old@example.org"]["Properties"]["firstname"] == "Old"
    )
    assert "not added" in skipped.detail and "new@example.org" in mailjet.contacts and added.remote_id


async def test_unsubscribe_and_check(mailjet: FakeMailjet) -> None:
    mailjet.add(ANN.email)
    connector = make(mailjet)
    before = await connector.check()
    await connector.unsubscribe(ANN, idempotency_key="u")
    await connector.aclose()
    assert "'Newsletter'" in before.detail and "1 subscribers" in before.detail
    assert mailjet.unsub[(ANN.email.lower(), mailjet.list_id)] is True


async def test_undefined_property_is_a_permanent_error_in_mailjets_words(mailjet: FakeMailjet) -> None:
    connector = make(mailjet, fields={"company": "company"}, define_properties=False)
    with pytest.raises(ConnectorError) as caught:
        await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert caught.value.permanent and caught.value.code == 400
    assert (
        "Object properties invalid" in caught.value.detail and "Property not defined" in caught.value.detail
    )


@pytest.mark.parametrize(("status", "permanent"), [(401, True), (404, True), (429, False), (500, False)])
async def test_error_mapping(mailjet: FakeMailjet, status: int, permanent: bool) -> None:
    mailjet.fail_next(
        status, path_contains="managecontact", headers={"Retry-After": "5"} if status == 429 else None
    )
    connector = make(mailjet, define_properties=False)
    with pytest.raises(ConnectorError) as caught:
        await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert caught.value.code == status and caught.value.permanent is permanent
    assert MESSAGES[status] in caught.value.detail
    if status == 429:
        assert caught.value.retry_after == 5


async def test_unknown_list_and_bad_key(mailjet: FakeMailjet) -> None:
    errors = []
    for options in ({"list_id": "99"}, {"secret_key": "wrong"}):
        connector = make(mailjet, **options)
        with pytest.raises(ConnectorError) as caught:
            await connector.upsert(ANN, idempotency_key="k")
        errors.append(caught.value)
        await connector.aclose()
    assert [e.code for e in errors] == [404, 401] and all(e.permanent for e in errors)


def test_documented_examples_pass_their_own_check() -> None:
    assert (
        mailjet_docs.request_problems(mailjet_docs.MANAGECONTACT_REQUEST, mailjet_docs.MANAGECONTACT_REQUEST)
        == []
    )
    assert mailjet_docs.request_problems(
        {"Email": "a@b.c", "Action": "addforce!"}, mailjet_docs.MANAGECONTACT_REQUEST
    )
    assert mailjet_docs.request_problems(
        {"Email": "a@b.c", "Action": "unsub", "Status": 1}, mailjet_docs.MANAGECONTACT_REQUEST
    )


def test_options_are_checked_in_words() -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("mj", {"kind": "mailjet", "api_key": "k", "list_id": "news"})
    assert "secret_key is missing" in str(caught.value) and "numeric list id" in str(caught.value)
