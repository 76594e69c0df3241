"""A sync replayed after a crash (same contact, same key) never makes a duplicate."""

from __future__ import annotations

from service.connectors.registry import build_connector
from tests.connectors.sample import ANN
from tests.fake_esps.brevo import FakeBrevo
from tests.fake_esps.getresponse import FakeGetResponse
from tests.fake_esps.kit import FakeKit
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.fake_esps.mailjet import FakeMailjet
from tests.fake_esps.sendgrid import FakeSendGrid


async def _twice(table: dict[str, object]) -> None:
    connector = build_connector("replay", table)
    first = await connector.upsert(ANN, idempotency_key="same")
    second = await connector.upsert(ANN, idempotency_key="same")
    await connector.aclose()
    assert first.detail and second.detail


async def test_replays_leave_one_record_everywhere(
    mailchimp: FakeMailchimp,
    brevo: FakeBrevo,
    sendgrid: FakeSendGrid,
    getresponse: FakeGetResponse,
    kit: FakeKit,
    mailjet: FakeMailjet,
) -> None:
    await _twice(
        {
            "kind": "mailchimp",
            "api_key": mailchimp.api_key,
            "list_id": mailchimp.list_id,
            "base_url": mailchimp.base_url,
            "tags": ["t"],
        }
    )
    await _twice(
        {"kind": "brevo", "api_key": brevo.api_key, "list_id": brevo.list_id, "base_url": brevo.base_url}
    )
    await _twice(
        {
            "kind": "sendgrid",
            "api_key": sendgrid.api_key,
            "list_id": sendgrid.list_id,
            "base_url": sendgrid.base_url,
        }
    )
    await _twice(
        {
            "kind": "getresponse",
            "api_key": getresponse.api_key,
            "campaign_id": getresponse.campaign_id,
            "base_url": getresponse.base_url,
        }
    )
    await _twice(
        {
            "kind": "kit",
            "api_key": kit.api_key,
            "form_id": str(kit.form_id),
            "tags": ["71"],
            "base_url": kit.base_url,
        }
    )
    await _twice(
        {
            "kind": "mailjet",
            "api_key": mailjet.api_key,
            "secret_key": mailjet.secret_key,
            "list_id": str(mailjet.list_id),
            "base_url": mailjet.base_url,
        }
    )

    assert len(mailchimp.members) == 1 and (mailchimp.member(ANN.email) or {})["tags"] == ["t", "spring"]
    assert len(brevo.contacts) == 1 and len(sendgrid.contacts) == 1 and len(getresponse.contacts) == 1
    sub = kit.by_email(ANN.email) or {}
    assert (
        len(kit.subscribers) == 1
        and kit.form_members[kit.form_id] == {sub["id"]}
        and kit.tagged[71] == {sub["id"]}
    )
    assert len(mailjet.contacts) == 1 and list(mailjet.unsub) == [(ANN.email.lower(), mailjet.list_id)]
