"""schemathesis against the live app: ≥ 1,000 generated requests, no 5xx, no response off-schema."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.settings import build_settings
from tests.support.app_server import SECRET, bound_socket

OPERATIONS = 12
EXAMPLES_PER_OPERATION = 150  # most operations reach it; healthz has nothing to vary


@pytest.fixture(scope="module")
def live_url(nameserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    database = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'optin.db'}"
    raw = {
        "server": {"public_url": url, "secret_key": SECRET, "database": database},
        "dns": {"nameservers": [nameserver], "timeout": 0.5},
        "verification": {"deadline": 1.0},
        "forms": {"newsletter": {"consent_text": "ok", "hook": {"secret": "h" * 20, "url_token": "t" * 30}}},
    }
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(build_settings(raw, {}, "openapi")), log_level="warning", proxy_headers=False
        )
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    yield url
    server.should_exit = True
    thread.join(10)
    sock.close()


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_api_conforms_and_never_fails(live_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result.err()}"
        operations.append(result.ok())
    calls: dict[str, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case[Any]) -> None:
            calls[case.operation.label] = calls.get(case.operation.label, 0) + 1
            case.call_and_validate(checks=CHECKS)

        run()
    assert len(operations) == OPERATIONS
    print(f"\nschemathesis: {sum(calls.values())} cases: {calls}")
    assert sum(calls.values()) >= 1000, calls


def test_the_schema_lists_every_public_path(live_url: str) -> None:
    import httpx

    paths = set(httpx.get(f"{live_url}/openapi.json").json()["paths"])
    assert {
        "/v1/verify",
        "/v1/forms/{form_id}/subscribe",
        "/v1/hooks/{form_id}",
        "/v1/contacts/{email}",
    } <= paths
    assert Path(__file__).exists()
