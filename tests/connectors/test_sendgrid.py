"""SendGrid connector over real HTTP against the fake, every request checked by the spec."""

from __future__ import annotations

import pytest

from service.connectors.registry import build_connector
from service.connectors.sendgrid import SendGridConnector
from service.errors import ConfigError, ConnectorError
from tests.connectors.sample import ANN, person
from tests.fake_esps.sendgrid import FakeSendGrid


def make(fake: FakeSendGrid, **options: object) -> SendGridConnector:
    table: dict[str, object] = {"kind": "sendgrid", "api_key": fake.api_key, "list_id": fake.list_id}
    table.update({"base_url": fake.base_url, "fields": {"company": "e1_T"}, **options})
    connector = build_connector("sg", table)
    assert isinstance(connector, SendGridConnector)
    return connector


async def test_upsert_puts_contact_in_list_and_records_the_job(sendgrid: FakeSendGrid) -> None:
    connector = make(sendgrid)
    result = await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    contact = sendgrid.contacts[ANN.email.lower()]
    assert contact["first_name"] == "Ann" and contact["last_name"] == "Lee"
    assert contact["custom_fields"] == {"e1_T": "Acme"} and contact["list_ids"] == [sendgrid.list_id]
    assert result.remote_id == sendgrid.jobs[-1] and "import job" in result.detail


async def test_suppressed_address_stays_suppressed(sendgrid: FakeSendGrid) -> None:
    sendgrid.add(ANN.email, suppressed=True)
    connector = make(sendgrid)
    await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert ANN.email.lower() in sendgrid.suppressed
    assert not sendgrid.requests_to("DELETE") and len(sendgrid.seen) == 1


async def test_policies_search_before_writing(sendgrid: FakeSendGrid) -> None:
    sendgrid.add("old@example.org", first_name="Old")
    add_only, update_only = make(sendgrid, policy="add_only"), make(sendgrid, policy="update_only")
    kept = await add_only.upsert(person("old@example.org"), idempotency_key="a")
    added = await add_only.upsert(person("new@example.org"), idempotency_key="b")
    skipped = await update_only.upsert(person("other@example.org"), idempotency_key="c")
    updated = await update_only.upsert(person("old@example.org", first_name="Ada"), idempotency_key="d")
    for c in (add_only, update_only):
        await c.aclose()
    assert "left unchanged" in kept.detail and "new@example.org" in sendgrid.contacts and added.remote_id
    assert "not added" in skipped.detail and "other@example.org" not in sendgrid.contacts
    assert updated.remote_id and sendgrid.contacts["old@example.org"]["first_name"] == "Ada"


async def test_batch_is_one_call_with_one_job(sendgrid: FakeSendGrid) -> None:
    connector = make(sendgrid)
    people = [(person(f"p{i}@example.org"), f"k{i}") for i in range(50)]
    results = await connector.upsert_many(people)
    await connector.aclose()
    assert len(sendgrid.requests_to("PUT")) == 1 and len(sendgrid.contacts) == 50
    assert {r.remote_id for r in results if not isinstance(r, ConnectorError)} == {sendgrid.jobs[0]}


async def test_unsubscribe_removes_from_list_and_check_counts(sendgrid: FakeSendGrid) -> None:
    connector = make(sendgrid)
    await connector.upsert(ANN, idempotency_key="k")
    before = await connector.check()
    await connector.unsubscribe(ANN, idempotency_key="u")
    gone = await connector.unsubscribe(person("nobody@example.org"), idempotency_key="v")
    await connector.aclose()
    assert "'Newsletter'" in before.detail and "1 contacts" in before.detail
    assert sendgrid.contacts[ANN.email.lower()]["list_ids"] == [] and "nothing to" in gone.detail


@pytest.mark.parametrize(
    ("status", "permanent", "words"),
    [
        (401, True, "authorization required"),
        (404, True, "list not found"),
        (429, False, "too many"),
        (500, False, "internal server error"),
    ],
)
async def test_errors_keep_sendgrids_words(
    sendgrid: FakeSendGrid, status: int, permanent: bool, words: str
) -> None:
    sendgrid.fail_next(status)
    connector = make(sendgrid)
    with pytest.raises(ConnectorError) as caught:
        await connector.upsert(ANN, idempotency_key="k")
    await connector.aclose()
    assert (
        caught.value.code == status and caught.value.permanent is permanent and words in caught.value.detail
    )
    if status == 429:  # X-RateLimit-Reset is a Unix time 30 s ahead
        assert caught.value.retry_after is not None and 20 <= caught.value.retry_after <= 30


async def test_real_refusals_are_permanent(sendgrid: FakeSendGrid) -> None:
    errors = []
    for options in (
        {"api_key": "wrong"},
        {"list_id": "00000000-0000-0000-0000-000000000000"},
        {"fields": {"company": "w9_T"}},
    ):
        connector = make(sendgrid, **options)
        with pytest.raises(ConnectorError) as caught:
            await connector.upsert(ANN, idempotency_key="k")
        errors.append(caught.value)
        await connector.aclose()
    assert [e.code for e in errors] == [401, 404, 400] and all(e.permanent for e in errors)
    assert "custom field w9_T does not exist" in errors[2].detail and sendgrid.contacts == {}


def test_options_are_checked_in_words() -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("sg", {"kind": "sendgrid", "tags": ["x"]})
    assert "api_key is missing" in str(caught.value) and "list_id is missing" in str(caught.value)


async def test_batch_splits_below_the_body_size_limit(
    sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.connectors.sendgrid.MAX_BODY", 400)
    connector = make(sendgrid)
    results = await connector.upsert_many([(person(f"p{i}@example.org"), f"k{i}") for i in range(10)])
    await connector.aclose()
    puts = sendgrid.requests_to("PUT")
    assert len(puts) > 1 and sum(len(p.body["contacts"]) for p in puts) == 10 and len(sendgrid.contacts) == 10
    assert [r.remote_id for r in results if not isinstance(r, ConnectorError)] == [
        job for p, job in zip(puts, sendgrid.jobs, strict=True) for _ in p.body["contacts"]
    ]
