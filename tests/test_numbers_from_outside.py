"""Numbers read from outside (a query string, a header, a form, a salt, the command line): digits
Python's ``str.isdigit()`` accepts and ``int()`` refuses ("²", "①"), and more digits than
``int()`` reads (4,300). Each reached an ``int()`` behind an ``isdigit()`` check and answered 500
or a traceback; now every such place answers in words (service.numbers)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.codes import read_code
from service.connectors.http import retry_after
from service.connectors.webhook import retry_after_seconds
from service.numbers import whole_number
from service.settings_admin import listen_problem
from tests.admin.support import signed_in, with_admin
from tests.support.app_server import client, relay_settings, serve
from tests.support.relay import Relay
from tests.test_codes import subscribe
from tests.widget.harness import serve_antibot, solve
from tests.widget.test_antibot_http import QUICK, SUBSCRIBE, person, proofs

ODD = ("²", "12345²", "①", "¹⁰", "9" * 5000)


def test_a_whole_number_is_ascii_digits_within_bounds() -> None:
    assert whole_number("42") == 42 and whole_number(" 7 ") == 7 and whole_number("0") == 0
    assert whole_number("65535", 65536) == 65535 and whole_number("65536", 65536) is None
    for odd in (*ODD, "", "-1", "+1", "1.5", "1e3", "０", "9" * 19):
        assert whole_number(odd) is None, odd


def test_a_code_with_superscript_digits_is_not_a_code_and_full_width_digits_are() -> None:
    for raw in ODD:
        assert read_code(raw) is None, raw
    assert read_code("１２３ ４５６") == "123456"  # full-width, as a phone keyboard may type


async def test_a_code_typed_with_a_superscript_is_answered_in_words(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with (
        serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _),
        client(url) as http,
    ):
        handle = await subscribe(http, "ada@example.org")
        for raw in ODD:
            answer = await http.post("/v1/forms/newsletter/code", json={"signup": handle, "code": raw})
            assert answer.status_code == 422, (raw, answer.status_code, answer.text)
            assert "6-digit code" in answer.json()["error"]


async def test_a_forged_challenge_with_an_odd_expiry_is_refused_in_words(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(db_url, nameserver, starttls_relay, ca_file)
    async with serve_antibot(configure, {"newsletter": QUICK}) as (url, _), client(url) as http:
        challenge = (await http.get("/v1/forms/newsletter/challenge")).json()
        forged = json.loads(base64.b64decode(solve(challenge)))
        for odd in ("²", "9" * 5000):
            forged["salt"] = forged["salt"].split("?")[0] + f"?expires={odd}&form=newsletter"
            altcha = base64.b64encode(json.dumps(forged).encode()).decode()
            answer = await http.post(SUBSCRIBE, json=person(**{**await proofs(http), "altcha": altcha}))
            assert answer.status_code == 400, answer.text
            assert answer.json()["field"] == "altcha"


async def test_admin_pages_read_odd_numbers_as_absent(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _), client(url) as http:
        csrf = await signed_in(http, "ops")
        for raw in ODD:
            assert (await http.get("/admin/outbox", params={"page": raw})).status_code == 200
            for page in ("/admin/overview", "/admin/funnel"):
                assert (await http.get(page, params={"days": raw})).status_code == 200
            retried = await http.post("/admin/outbox/retry", data={"csrf": csrf, "job": raw})
            assert retried.status_code in (200, 303), retried.text


def test_odd_numbers_from_a_relay_or_list_are_no_retry_hint() -> None:
    for raw in ODD:
        assert retry_after_seconds(raw) is None
        response = httpx.Response(429, headers=[(b"Retry-After", raw.encode())])
        assert response.headers["retry-after"] == raw
        assert retry_after(response) is None


def test_odd_numbers_in_settings_and_on_the_command_line_are_told_in_words() -> None:
    assert listen_problem("127.0.0.1:²") is not None
    assert listen_problem("127.0.0.1:" + "9" * 5000) is not None
    for args in (
        ["serve", "--workers", "²"],
        ["serve", "--port", "①"],
        ["serve", "--port", "9" * 5000],
        ["dkim-keygen", "--bits", "²"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "service", *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, (args, done.returncode, done.stderr[-500:])
        assert "Traceback" not in done.stderr, done.stderr
        assert f"error: argument {args[1]}: " in done.stderr, done.stderr[-300:]


def test_an_import_pace_of_nan_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    # nan compares false with everything: it passed "<= 0", and every paced confirmation email
    # was due at a time that never comes.
    from service.errors import InputError
    from service.imports.runner import ImportRunner
    from service.settings import build_settings

    settings = build_settings({"server": {"database": f"sqlite:///{tmp_path / 'o.db'}"}}, {}, "test")
    for pace in (float("nan"), float("inf"), 0.0, -5.0):
        with pytest.raises(InputError, match="--emails-per-minute must be a number more than 0"):
            ImportRunner(settings, None, None, emails_per_minute=pace)  # type: ignore[arg-type]
