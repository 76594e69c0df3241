"""The lists a visitor chose, at each ESP: exactly those, as its own lists, interests or tags.

Every fake checks the connector's requests against the vendor's published contract.
"""

from __future__ import annotations

from dataclasses import replace

from service.connectors.base import ListTarget
from service.connectors.brevo import BrevoConnector
from service.connectors.getresponse import GetResponseConnector
from service.connectors.kit import KitConnector
from service.connectors.mailchimp import MailchimpConnector
from service.connectors.mailjet import MailjetConnector
from service.connectors.registry import build_connector
from service.connectors.sendgrid import SendGridConnector
from service.connectors.sync import list_contact, list_targets
from service.connectors.webhook import contact_json
from service.form_fields import ListSpec
from service.settings_types import FormSettings
from service.store import ContactRow
from tests.connectors.sample import ANN, person
from tests.fake_esps.brevo import FakeBrevo
from tests.fake_esps.getresponse import FakeGetResponse
from tests.fake_esps.kit import FakeKit
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.fake_esps.mailjet import FakeMailjet
from tests.fake_esps.sendgrid import FakeSendGrid

EVENTS_SG = "f2d3a5c1-0b7e-4c55-9a8e-5d2f6c7b8a90"


async def test_mailchimp_interests_and_tags_in_single_and_batch_calls(mailchimp: FakeMailchimp) -> None:
    mailchimp.lists[mailchimp.list_id].interests |= {"i-news", "i-events"}
    table = {"kind": "mailchimp", "api_key": mailchimp.api_key, "list_id": mailchimp.list_id}
    connector = build_connector("mc", {**table, "base_url": mailchimp.base_url})
    assert isinstance(connector, MailchimpConnector)
    chose = (ListTarget("news", interest="i-news"), ListTarget("offers", tag="Offers"))
    await connector.upsert(replace(ANN, tags=(), lists=chose), idempotency_key="a")
    batch = [
        (person("b@example.org", tags=(), lists=(ListTarget("events", interest="i-events"),)), "b"),
        (person("c@example.org", tags=(), lists=()), "c"),
    ]
    await connector.upsert_many(batch)
    await connector.aclose()
    ann, b, c = (mailchimp.member(e) for e in (ANN.email, "b@example.org", "c@example.org"))
    assert ann is not None and ann["interests"] == {"i-news": True} and ann["tags"] == ["Offers"]
    assert b is not None and b["interests"] == {"i-events": True}
    assert c is not None and c["interests"] == {}


async def test_brevo_contact_joins_exactly_the_lists_chosen(brevo: FakeBrevo) -> None:
    brevo.lists[8] = "Events"
    connector = build_connector(
        "bv", {"kind": "brevo", "api_key": brevo.api_key, "list_id": "7", "base_url": brevo.base_url}
    )
    assert isinstance(connector, BrevoConnector)
    result = await connector.upsert(
        replace(ANN, lists=(ListTarget("events", list_id="8"),)), idempotency_key="k"
    )
    both = (ListTarget("news", list_id="7"), ListTarget("events", list_id="8"))
    await connector.upsert(person("b@example.org", lists=both), idempotency_key="k2")
    left = await connector.unsubscribe(
        replace(ANN, lists=(ListTarget("events", list_id="8"),)), idempotency_key="u"
    )
    await connector.aclose()
    assert result.detail == "created in Brevo list 8"
    assert brevo.contacts["b@example.org"]["listIds"] == {7, 8}
    assert (
        brevo.contacts[ANN.email.lower()]["listIds"] == set() and left.detail == "removed from Brevo list 8"
    )


async def test_mailjet_contact_joins_exactly_the_lists_chosen(mailjet: FakeMailjet) -> None:
    mailjet.lists[11] = "Events"
    table = {"kind": "mailjet", "api_key": mailjet.api_key, "secret_key": mailjet.secret_key, "list_id": "10"}
    connector = build_connector("mj", {**table, "base_url": mailjet.base_url})
    assert isinstance(connector, MailjetConnector)
    chose = (ListTarget("news", list_id="10"), ListTarget("events", list_id="11"))
    await connector.upsert(replace(ANN, lists=chose), idempotency_key="k")
    await connector.upsert(
        person("b@example.org", lists=(ListTarget("events", list_id="11"),)), idempotency_key="k2"
    )
    await connector.aclose()
    email = ANN.email.lower()
    assert mailjet.unsub == {(email, 10): False, (email, 11): False, ("b@example.org", 11): False}


async def test_sendgrid_groups_a_batch_by_the_lists_chosen(sendgrid: FakeSendGrid) -> None:
    sendgrid.lists[EVENTS_SG] = "Events"
    table = {"kind": "sendgrid", "api_key": sendgrid.api_key, "list_id": sendgrid.list_id}
    connector = build_connector("sg", {**table, "base_url": sendgrid.base_url})
    assert isinstance(connector, SendGridConnector)
    items = [
        (replace(ANN, lists=(ListTarget("events", list_id=EVENTS_SG),)), "a"),
        (person("b@example.org", lists=()), "b"),
        (person("c@example.org", lists=(ListTarget("events", list_id=EVENTS_SG),)), "c"),
    ]
    results = await connector.upsert_many(items)
    await connector.aclose()
    assert all(not isinstance(r, Exception) for r in results)
    assert sendgrid.contacts[ANN.email.lower()]["list_ids"] == [EVENTS_SG]
    assert sendgrid.contacts["b@example.org"]["list_ids"] == [sendgrid.list_id]
    assert sendgrid.contacts["c@example.org"]["list_ids"] == [EVENTS_SG]
    assert len(sendgrid.requests_to("PUT", "/v3/marketing/contacts")) == 2


async def test_getresponse_and_kit_tag_the_lists_chosen(getresponse: FakeGetResponse, kit: FakeKit) -> None:
    table = {"kind": "getresponse", "api_key": getresponse.api_key, "campaign_id": getresponse.campaign_id}
    gr = build_connector("gr", {**table, "base_url": getresponse.base_url})
    assert isinstance(gr, GetResponseConnector)
    chose = (ListTarget("news", tag="tNws"),)
    getresponse.add(ANN.email)
    await gr.upsert(replace(ANN, tags=(), lists=chose), idempotency_key="k")
    # A batch with a choice goes contact by contact: the batch import takes no tags.
    await gr.upsert_many([(person("b@example.org", tags=(), lists=chose), "b")])
    await gr.aclose()
    assert getresponse.requests_to("POST", "/v3/contacts/batch") == []
    assert [t["tagId"] for t in getresponse.requests_to("POST", "/v3/contacts")[-1].body["tags"]] == ["tNws"]
    assert getresponse.in_campaign(ANN.email)["tags"] == ["tNws"]  # type: ignore[index]

    kt = build_connector(
        "kit", {"kind": "kit", "api_key": kit.api_key, "form_id": str(kit.form_id), "base_url": kit.base_url}
    )
    assert isinstance(kt, KitConnector)
    await kt.upsert(replace(ANN, tags=(), lists=(ListTarget("events", tag="72"),)), idempotency_key="k")
    await kt.aclose()
    sub = kit.by_email(ANN.email)
    assert sub is not None and kit.tagged == {71: set(), 72: {sub["id"]}}


def test_a_contact_carries_its_fields_and_the_lists_it_chose_at_this_connector() -> None:
    form = FormSettings(
        id="news",
        title="News",
        connector="mc",
        lists=(
            ListSpec("news", "mc", interest="i-news"),
            ListSpec("events", "bv", list_id="8"),
            ListSpec("offers", "mc", tag="Offers"),
        ),
    )
    row = ContactRow(
        1, "news", "a@example.org", "Ann", None, "en", "confirmed", 1.0, 2.0, None,
        {"company": "Acme", "size": 12, "beta": True, "utm_source": "mail"},
        ("news", "events"),
    )  # fmt: skip
    assert form.connectors_for(row.lists) == ("bv", "mc")
    contact = list_contact(row, [], list_targets(form, row, "mc"))
    assert contact.lists == (ListTarget("news", interest="i-news"),)
    assert contact.fields == {"company": "Acme", "size": "12", "beta": "true", "utm_source": "mail"}
    sent = contact_json(list_contact(row, [], list_targets(form, row, "bv")))
    assert sent["lists"] == ["events"] and sent["fields"]["company"] == "Acme"
