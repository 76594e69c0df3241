"""POST /v1/verify through a small Starlette app, over ASGI, as the widget calls it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from service.verification import Policy, Verifier
from service.verification.http import verify_endpoint


@pytest.fixture
async def client(verifier: Verifier) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route("/v1/verify", verify_endpoint, methods=["POST"])])
    app.state.verifier = verifier
    app.state.settings = SimpleNamespace(
        forms={
            "newsletter": SimpleNamespace(policy=Policy()),
            "lenient": SimpleNamespace(policy=Policy(reject_disposable=False)),
        }
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://optin.test") as c:
        yield c


async def test_verdict_as_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/verify", json={"email": " Ann@Gmail.COM ", "form": "newsletter"})
    assert response.status_code == 200
    body = response.json()
    assert body["normalized"] == "Ann@gmail.com"
    assert body["status"] == "deliverable"
    assert body["decision"] == "accept"
    assert body["flags"] == ["free"]
    assert body["suggestion"] is None
    assert set(body) >= {"input", "reasons", "message", "elapsed_ms"}


async def test_typo_and_form_policy(client: httpx.AsyncClient) -> None:
    typo = (await client.post("/v1/verify", json={"email": "ann@gmail.con", "form": "newsletter"})).json()
    assert typo["suggestion"] == "ann@gmail.com"
    assert typo["message"] == "Did you mean ann@gmail.com?"
    strict = (
        await client.post("/v1/verify", json={"email": "ann@mailinator.com", "form": "newsletter"})
    ).json()
    lenient = (
        await client.post("/v1/verify", json={"email": "ann@mailinator.com", "form": "lenient"})
    ).json()
    assert (strict["decision"], lenient["decision"]) == ("reject", "warn")


async def test_form_is_optional_and_uses_the_default_policy(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/verify", json={"email": "ann@null-mx.com"})
    assert response.status_code == 200
    assert response.json()["decision"] == "reject"


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"{}", 422, '"email"'),
        (b'{"email": 42}', 422, '"email"'),
        (b'{"email": "a@b.org", "form": 3}', 422, '"form"'),
        (b'{"email": "a@b.org", "form": "nope"}', 404, "no form called 'nope'"),
        (b'{"email": "' + b"a" * 20000 + b'"}', 413, "too large"),
    ],
)
async def test_bad_requests_get_a_message_not_a_500(
    client: httpx.AsyncClient, content: bytes, status: int, words: str
) -> None:
    response = await client.post("/v1/verify", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert words in response.json()["error"]


async def test_missing_verifier_is_a_503_in_words() -> None:
    app = Starlette(routes=[Route("/v1/verify", verify_endpoint, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post("/v1/verify", json={"email": "a@b.org"})
    assert response.status_code == 503
    assert "not available" in response.json()["error"]
