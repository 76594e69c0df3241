"""The shared plumbing: waits from headers, vendor messages, field and tag mapping."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from service.connectors.http import (
    ResetHeader,
    error_from_response,
    field_values,
    retry_after,
    tag_values,
    vendor_message,
)
from tests.connectors.sample import ANN


def response(status: int, headers: dict[str, str] | None = None, body: object = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json=body)


def test_retry_after_reads_seconds_dates_and_vendor_resets() -> None:
    assert retry_after(response(429, {"Retry-After": "12"})) == 12
    later = email.utils.formatdate(time.time() + 100, usegmt=True)
    wait = retry_after(response(503, {"Retry-After": later}))
    assert wait is not None and 90 < wait <= 100
    epoch = ResetHeader("x-ratelimit-reset", "epoch")
    wait = retry_after(response(429, {"X-RateLimit-Reset": str(int(time.time()) + 40)}), epoch)
    assert wait is not None and 30 < wait <= 40
    seconds = ResetHeader("x-ratelimit-reset", "seconds")
    assert retry_after(response(429, {"X-RateLimit-Reset": "598 seconds"}), seconds) == 598
    assert retry_after(response(429, {"X-RateLimit-Reset": "soon"}), seconds) is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"title": "Member Exists", "detail": "a@b.c is already a list member."},
            "Member Exists; a@b.c is already",
        ),
        ({"code": "duplicate_parameter", "message": "Contact already exist"}, "Contact already exist"),
        ({"errors": [{"field": "list_ids", "message": "bad list"}]}, "list_ids: bad list"),
        ({"errors": ["Email address is invalid"]}, "Email address is invalid"),
        ({"ErrorInfo": {"Name": "missing"}, "ErrorMessage": "Object properties invalid"}, "Name: missing"),
        (
            {"httpStatus": 400, "code": 1000, "message": "Validation error", "context": ["name: too long"]},
            "too long",
        ),
    ],
)
def test_vendor_message_finds_the_esps_own_words(body: dict[str, object], words: str) -> None:
    assert words in vendor_message(response(400, body=body))


def test_plain_text_and_classification() -> None:
    assert vendor_message(httpx.Response(429, text="Retry later")) == "Retry later"
    for status, permanent in [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (422, True),
        (408, False),
        (425, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
    ]:
        assert error_from_response("X", httpx.Response(status)).permanent is permanent, status


def test_field_and_tag_mapping() -> None:
    fields = {"first_name": "FNAME", "language": "LANG", "company": "COMPANY", "missing": "NOPE"}
    assert field_values(ANN, fields) == {"FNAME": "Ann", "LANG": "en", "COMPANY": "Acme"}
    assert tag_values(ANN, ("site",), {}, passthrough=True) == ["site", "spring"]
    assert tag_values(ANN, ("1",), {}, passthrough=False) == ["1"]
    assert tag_values(ANN, (), {"spring": "42"}, passthrough=False) == ["42"]


def test_unknown_option_keys_are_reported() -> None:
    from service.connectors.registry import build_connector
    from service.errors import ConfigError

    with pytest.raises(ConfigError, match=r"connectors\.b\.lists_id is not an option"):
        build_connector("b", {"kind": "brevo", "api_key": "k", "list_id": 3, "lists_id": 4})
