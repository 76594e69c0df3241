"""schemathesis against the live app with every check on: no 5xx, nothing off-schema, a 405 that
names the allowed methods, schema-valid requests accepted and schema-violating ones refused.

The schemathesis command line runs all its phases (examples, coverage, fuzzing, stateful) and all
its checks, positive and negative data; the form under test turns the proof of work and the fill
time off (the honeypot stays on) so generated requests reach the signup logic.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.settings import Settings, build_settings
from tests.support.app_server import SECRET
from tests.support.threaded_server import threaded_service

ST = Path(sys.executable).with_name("st")
MIN_CASES = 1000
# schemathesis's own defaults, plus 422: a schema cannot say "an address that can receive mail"
# or "the consent box ticked", so a schema-valid signup may still be refused in words.
ACCEPTABLE_FOR_VALID_DATA = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
CONFIG = f"""
[parameters]
"path.form_id" = "newsletter"

[checks.positive_data_acceptance]
expected-statuses = {ACCEPTABLE_FOR_VALID_DATA!r}
"""


@pytest.fixture(scope="module")
def live_url(nameserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'optin.db'}"

    def configure(url: str) -> Settings:
        raw = {
            "server": {"public_url": url, "secret_key": SECRET, "database": database},
            "dns": {"nameservers": [nameserver], "timeout": 0.5},
            "verification": {"deadline": 1.0},
            "forms": {
                "newsletter": {
                    "consent_text": "ok",
                    "antibot": {"altcha": False, "min_fill_seconds": 0},
                    "hook": {"secret": "h" * 20, "url_token": "t" * 30},
                }
            },
        }
        return build_settings(raw, {}, "openapi")

    with threaded_service(configure) as url:
        yield url


def test_api_conforms_with_every_schemathesis_check(live_url: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    command = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        f"{live_url}/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "100",
        "--generation-deterministic",
        "--workers",
        "1",
        "--no-color",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    generated = re.search(r"(\d+) generated", output)
    assert generated, output
    print(f"\nschemathesis: {generated.group(0)} cases")
    assert int(generated.group(1)) >= MIN_CASES, output


def test_the_schema_lists_every_public_path(live_url: str) -> None:
    paths = set(httpx.get(f"{live_url}/openapi.json").json()["paths"])
    assert {
        "/v1/verify",
        "/v1/forms/{form_id}/subscribe",
        "/v1/forms/{form_id}/code",
        "/v1/forms/{form_id}/status",
        "/v1/forms/{form_id}/resend",
        "/v1/hooks/{form_id}",
        "/v1/contacts/{email}",
    } <= paths


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/v1/verify", {"POST"}),
        ("GET", "/v1/forms/newsletter/subscribe", {"POST"}),
        ("PUT", "/v1/forms/newsletter", {"GET", "HEAD"}),
        ("DELETE", "/healthz", {"GET", "HEAD"}),
        ("PATCH", "/confirm/some-token", {"GET", "HEAD", "POST"}),
        ("PUT", "/unsubscribe/some-token", {"GET", "HEAD", "POST"}),
        ("GET", "/v1/hooks/newsletter", {"POST"}),
    ],
)
def test_a_405_names_the_allowed_methods(live_url: str, method: str, path: str, allowed: set[str]) -> None:
    answer = httpx.request(method, f"{live_url}{path}")
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} == allowed
