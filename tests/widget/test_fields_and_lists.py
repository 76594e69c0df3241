"""Custom fields, campaign tracking and list choice, from the widget to a fake Mailchimp.

The fake checks every request against Mailchimp's published OpenAPI document (tests/connectors).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from service.export import write_csv
from service.store import open_store
from tests.connectors import specs
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.support.app_server import code_in, stored, wait_for
from tests.support.relay import Relay
from tests.widget.test_browser import CONSENT, LABELS, scene

FIELDS: dict[str, Any] = {
    "company": {"type": "text", "max_length": 80, "label": {"en": "Company", "fr": "Société"}},
    "team_size": {"type": "number", "label": "Team size"},
    "role": {
        "type": "choice",
        "choices": ["Developer", "Designer", "Other"],
        "required": True,
        "label": "Role",
    },
    "birthday": {"type": "date", "label": "Birthday"},
    "beta": {"type": "boolean", "label": "I want to try new features early"},
}
LISTS: dict[str, Any] = {
    "news": {
        "interest": "int-news",
        "label": {"en": "Monthly news", "fr": "Actualités"},
        "preselected": True,
    },
    "events": {"interest": "int-events", "label": {"en": "Event invitations", "fr": "Invitations"}},
    "offers": {"tag": "offers", "label": {"en": "Special offers", "fr": "Offres"}},
}
MERGE = {
    "company": "COMPANY",
    "team_size": "TEAMSIZE",
    "role": "ROLE",
    "birthday": "BIRTHDAY",
    "beta": "BETA",
    "utm_source": "UTMSOURCE",
    "utm_campaign": "UTMCAMP",
}


@pytest.fixture
async def mailchimp() -> AsyncIterator[FakeMailchimp]:
    fake = FakeMailchimp()
    audience = fake.lists[fake.list_id]
    audience.merge_fields |= set(MERGE.values())
    audience.interests |= {"int-news", "int-events", "int-unused"}
    fake.checker = specs.checker(specs.contract("Mailchimp"))
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == [], fake.violations


async def test_fields_and_lists_reach_mailchimp_as_merge_fields_interests_and_tags(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str, mailchimp: FakeMailchimp
) -> None:
    esp = {
        "kind": "mailchimp",
        "api_key": mailchimp.api_key,
        "list_id": mailchimp.list_id,
        "base_url": mailchimp.base_url,
        "fields": MERGE,
    }
    form = {"connector": "esp", "fields": FIELDS, "lists": LISTS}
    async with scene(starttls_relay, ca_file, db_url, nameserver, texts=form, connectors={"esp": esp}) as s:
        page = s.page
        query = "?lang=en&utm_source=spring-mail&utm_medium=email&utm_campaign=launch"
        await page.goto(f"{s.host}/{query}", referer="https://news.example/spring-issue")
        await s.email().fill("ada@example.org")
        await page.get_by_label("Company").fill("Analytical Engines")
        await page.get_by_label("Team size").fill("12")
        await page.get_by_label("Birthday").fill("1990-12-10")
        await page.get_by_label("I want to try new features early").check()
        news = page.get_by_role("checkbox", name="Monthly news")
        await expect(news).to_be_checked()  # preselected
        await expect(page.get_by_role("group", name="What would you like to receive?")).to_be_visible()
        await news.uncheck()
        await page.get_by_label(CONSENT).check()
        # No list ticked: the widget asks for one before anything is sent.
        await page.get_by_role("button", name="Subscribe").click()
        await expect(page.get_by_role("checkbox", name="Monthly news")).to_be_focused()
        await expect(page.get_by_text("Please choose at least one.")).to_be_visible()
        assert s.submitted == []
        await page.get_by_role("checkbox", name="Event invitations").check()
        await page.get_by_role("checkbox", name="Special offers").check()
        # The required choice is missing: the server says so under the field, which gets the focus.
        await page.get_by_role("button", name="Subscribe").click()
        role = page.get_by_label("Role")
        await expect(role).to_be_focused()
        await expect(role).to_have_accessible_description("please fill in this field")
        await expect(role).to_have_attribute("aria-invalid", "true")
        await role.select_option("Designer")
        await page.get_by_label("Company").fill("See https://evil.example for prizes")
        await page.get_by_role("button", name="Subscribe").click()
        company = page.get_by_label("Company")
        await expect(company).to_have_accessible_description(
            "web and email addresses are not accepted in this field"
        )
        await company.fill("Analytical Engines")
        await page.get_by_role("button", name="Subscribe").click()
        await expect(page.get_by_role("status")).to_have_text(LABELS["en"]["success"])
        sent = s.submitted[-1]
        assert sent["lists"] == ["events", "offers"] and sent["beta"] is True and sent["role"] == "Designer"
        assert sent["utm_source"] == "spring-mail" and sent["referrer"] == "https://news.example/spring-issue"

        [mail] = await wait_for(lambda: starttls_relay.to("ada@example.org"), what="the email")
        assert "Analytical" not in str(mail)  # no field ever goes into an email
        await page.get_by_label("Enter the 6-digit code we sent you").fill(code_in(mail))
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.get_by_role("status")).to_have_text("You're subscribed! Thank you.")
        member = await wait_for(lambda: mailchimp.member("ada@example.org"), timeout=20, what="the member")

    assert member["status"] == "subscribed"
    assert member["merge_fields"] == {
        "COMPANY": "Analytical Engines",
        "TEAMSIZE": "12",
        "ROLE": "Designer",
        "BIRTHDAY": "1990-12-10",
        "BETA": "true",
        "UTMSOURCE": "spring-mail",
        "UTMCAMP": "launch",
    }
    assert member["interests"] == {"int-events": True}  # exactly the lists chosen
    assert member["tags"] == ["offers"]

    ((contact, events),) = await stored(db_url)
    assert contact.lists == ("events", "offers")
    assert contact.fields["company"] == "Analytical Engines" and contact.fields["team_size"] == 12
    assert contact.fields["utm_medium"] == "email"
    assert contact.fields["referrer"] == "https://news.example/spring-issue"
    consents = [(e.consent_text, e.detail) for e in events if e.event == "list_consent"]
    assert [text for text, _ in consents] == ["Event invitations", "Special offers"]
    assert consents[0][1] is not None and consents[0][1].startswith("list=events connector=esp label_sha256=")
    (signup,) = [e for e in events if e.event == "signup"]
    assert signup.detail is not None and signup.detail.endswith("lists=events,offers")

    store = await open_store(db_url)
    try:
        out = io.StringIO()
        await write_csv(store, out)
    finally:
        await store.close()
    header, row = out.getvalue().splitlines()[:2]
    assert header.endswith(
        "lists,utm_source,utm_medium,utm_campaign,referrer,beta,birthday,company,role,team_size"
    )
    assert row.endswith(
        "events offers,spring-mail,email,launch,https://news.example/spring-issue,"
        "true,1990-12-10,Analytical Engines,Designer,12"
    )
