"""The contract checker itself: it loads the documents or says why not, and it does reject what
breaks them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from tests.connectors import specs
from tests.connectors.conftest import serve
from tests.fake_esps.brevo import FakeBrevo
from tests.fake_esps.getresponse import FakeGetResponse
from tests.fake_esps.kit import FakeKit
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.fake_esps.sendgrid import FakeSendGrid
from tests.fake_esps.server import FakeEsp


@pytest.fixture
def kit_contract_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Point the loader at an empty folder; Kit's document is loaded afresh from there."""
    monkeypatch.setattr(specs, "SPECS", tmp_path)
    specs.kit.cache_clear()
    yield tmp_path
    specs.kit.cache_clear()  # the next Kit test loads the real document again


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        ('{"openapi": "3.0.3", "paths": ', "is not valid JSON: Expecting value"),
        ('{"openapi": "3.0.3", "paths": {}}', "cannot be used: KeyError: '/v4/subscribers'"),
    ],
    ids=["missing", "not-json", "no-longer-fits-its-patch"],
)
async def test_a_contract_that_cannot_load_fails_the_fixture_naming_file_and_reason(
    kit_contract_at: Path, content: str | None, reason: str
) -> None:
    if content is not None:
        (kit_contract_at / "kit.json").write_text(content)
    fake = FakeKit()
    with pytest.raises(pytest.fail.Exception) as failed:
        await anext(serve(fake))
    message = str(failed.value)
    assert message.startswith("Kit's contract cannot be loaded: ")
    assert str(kit_contract_at / "kit.json") in message
    assert reason in message
    assert fake.base_url == "", "the fake must not start without its contract"


async def test_a_checker_that_breaks_never_turns_the_answer_into_a_500() -> None:
    def broken(request: Request, raw: bytes, response: Response) -> list[str]:
        raise RuntimeError("no document to check against")

    fake = FakeKit()
    fake.checker = broken
    await fake.start()
    try:
        async with httpx.AsyncClient(base_url=fake.base_url) as client:
            answer = await client.get("/v4/account")  # no API key: Kit answers 401
    finally:
        await fake.stop()
    assert answer.status_code == 401
    assert fake.violations == [
        "contract check of GET /v4/account could not run: RuntimeError('no document to check against')"
    ]


async def _rejected(
    fake: FakeEsp, method: str, path: str, body: object, headers: dict[str, str]
) -> list[str]:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as client:
        await client.request(method, path, json=body)
    found, fake.violations[:] = list(fake.violations), []
    return found


async def test_mailchimp_checker_rejects_bad_status_and_missing_auth(mailchimp: FakeMailchimp) -> None:
    auth = {"Authorization": "Basic " + "b3B0aW46MDEyMzQ1Njc4OWFiY2RlZi11czIx"}
    path = f"/3.0/lists/{mailchimp.list_id}/members/abc"
    bad_status = await _rejected(mailchimp, "PUT", path, {"status_if_new": "maybe"}, auth)
    no_auth = await _rejected(mailchimp, "GET", f"/3.0/lists/{mailchimp.list_id}", None, {})
    assert bad_status and "maybe" in bad_status[0]
    assert no_auth and "Security" in no_auth[0]


async def test_brevo_checker_rejects_string_list_ids(brevo: FakeBrevo) -> None:
    found = await _rejected(
        brevo,
        "POST",
        "/v3/contacts",
        {"email": "a@example.org", "listIds": ["seven"]},
        {"api-key": brevo.api_key},
    )
    assert found and "listIds" in found[0] + str(found)


async def test_sendgrid_checker_rejects_a_list_id_that_is_no_uuid(sendgrid: FakeSendGrid) -> None:
    body = {"list_ids": ["news"], "contacts": [{"email": "a@example.org"}]}
    found = await _rejected(
        sendgrid, "PUT", "/v3/marketing/contacts", body, {"Authorization": "Bearer SG.test"}
    )
    assert found and "uuid" in found[0]


async def test_getresponse_checker_rejects_a_scalar_custom_field_value(getresponse: FakeGetResponse) -> None:
    body = {
        "email": "a@example.org",
        "campaign": {"campaignId": "V8bN"},
        "customFieldValues": [{"customFieldId": "pY7c", "value": "not a list"}],
    }
    found = await _rejected(getresponse, "POST", "/v3/contacts", body, {"X-Auth-Token": "api-key gr-key"})
    assert found and "customFieldValues" in found[0]


async def test_kit_checker_rejects_a_form_call_without_email(kit: FakeKit) -> None:
    found = await _rejected(
        kit, "POST", f"/v4/forms/{kit.form_id}/subscribers", {}, {"X-Kit-Api-Key": "kit_key"}
    )
    assert found and "email_address" in found[0]
