"""What every answer gets from service.web.edge, whatever answered it: the security headers once
each, a request id, CORS only for the pages a form allows, and a 413 for a body over the limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import CollectorRegistry, Histogram

from service.log_json import CURRENT
from service.metrics import quick_observer
from service.settings import Settings
from tests.support.app_server import base_config, client, make_settings, serve

ALLOWED = "https://www.example.com"
LIMIT = 16_384


def configure(db_url: str, nameserver: str) -> Callable[[str], Settings]:
    def build(url: str) -> Settings:
        config = base_config(db_url, url, nameserver)
        config["forms"]["newsletter"]["allowed_origins"] = [ALLOWED]
        settings = make_settings(config)
        # Served over plain HTTP here, as behind a TLS proxy: HSTS goes by the public URL.
        return replace(settings, server=replace(settings.server, public_url="https://signup.example.com"))

    return build


async def chunked_head(url: str, path: str) -> bytes:
    """The head of the answer to a chunked POST of twice the limit, with no Content-Length."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    head = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    try:
        for _ in range(2 * LIMIT // 4096 + 1):
            if head.done():
                break
            writer.write(b"1000\r\n" + b" " * 4096 + b"\r\n")
            await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server answered and closed while we were still sending
    answer = await asyncio.wait_for(head, 10)
    writer.close()
    return answer


def header_lines(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [(k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines if line)]


async def test_every_kind_of_answer_carries_the_security_headers_once_and_a_request_id(
    db_url: str, nameserver: str
) -> None:
    async with serve(configure(db_url, nameserver)) as (url, _), client(url) as http:
        preflight = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        answers: dict[str, httpx.Response] = {
            "page": await http.get("/thanks"),
            "missing page": await http.get("/no-such-page"),
            "missing api": await http.get("/v1/no-such-thing"),
            "wrong method": await http.delete("/v1/verify"),
            "verify": await http.post("/v1/verify", json={"email": "ann@example.org"}),
            "bad json": await http.post(
                "/v1/verify", content=b"{", headers={"content-type": "application/json"}
            ),
            "preflight": await http.options("/v1/verify", headers=preflight),
            "preflight refused": await http.options(
                "/v1/verify", headers={**preflight, "Origin": "https://evil.example"}
            ),
            "origin refused": await http.post(
                "/v1/verify", json={"email": "ann@example.org"}, headers={"Origin": "https://evil.example"}
            ),
            "declared too large": await http.post("/v1/verify", content=b" " * (LIMIT + 1)),
            "page too large": await http.post("/confirm/resend", content=b" " * (LIMIT + 1)),
        }
        chunked = header_lines(await chunked_head(url, "/v1/verify"))
    expected = {
        "page": 200,
        "missing page": 404,
        "missing api": 404,
        "wrong method": 405,
        "verify": 200,
        "bad json": 400,
        "preflight": 204,
        "preflight refused": 403,
        "origin refused": 403,
        "declared too large": 413,
        "page too large": 413,
    }
    assert {name: a.status_code for name, a in answers.items()} == expected
    ids = set()
    for name, answer in answers.items():
        for header, value in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ]:
            assert answer.headers.get_list(header) == [value], (name, header, answer.headers)
        assert len(answer.headers.get_list("x-request-id")) == 1, name
        ids.add(answer.headers["x-request-id"])
    assert len(ids) == len(answers)  # each answer its own id
    # Pages set their own CSP (and it is not doubled); JSON and the limits' plain text need none.
    for name in ("page", "missing page"):
        assert "frame-ancestors 'none'" in answers[name].headers["content-security-policy"], name
    assert str(LIMIT) in answers["declared too large"].json()["error"]
    assert str(LIMIT) in answers["page too large"].text
    # The body's size learnt only while reading it: the same 413, with the same headers.
    assert ("x-content-type-options", "nosniff") in chunked
    assert ("strict-transport-security", "max-age=31536000; includeSubDomains") in chunked
    assert any(k == "x-request-id" for k, _ in chunked)


async def test_only_an_allowed_origin_is_told_it_may_read_the_answer(db_url: str, nameserver: str) -> None:
    async with serve(configure(db_url, nameserver)) as (url, _), client(url) as http:
        allowed = await http.post(
            "/v1/verify", json={"email": "ann@example.org"}, headers={"Origin": ALLOWED}
        )
        same_site = await http.post("/v1/verify", json={"email": "ann@example.org"})
        preflight = await http.options(
            "/v1/verify", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        )
        refused = await http.options(
            "/v1/verify", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        page = await http.get("/thanks", headers={"Origin": ALLOWED})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in allowed.headers.get_list("vary")
    assert "access-control-allow-origin" not in same_site.headers
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in refused.headers
    assert "https://evil.example is not allowed" in refused.json()["error"]
    assert "access-control-allow-origin" not in page.headers  # pages are not for other sites to read


def test_the_quick_histogram_observer_counts_as_prometheus_does() -> None:
    registry = CollectorRegistry()
    buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    quick = Histogram("quick_seconds", "q", ["route"], buckets=buckets, registry=registry)
    plain = Histogram("plain_seconds", "p", ["route"], buckets=buckets, registry=registry)
    observe = quick_observer(quick.labels("/x"))
    # Every bound exactly, just either side of it, zero, and past the last.
    values = [0.0, 11.0, 1e9] + [b + d for b in buckets for d in (-1e-9, 0.0, 1e-9)]
    for value in values:
        observe(value)
        plain.labels("/x").observe(value)

    def samples(name: str) -> list[tuple[str, dict[str, str], float]]:
        family = next(m for m in registry.collect() if m.name == name)
        return [
            (s.name.removeprefix(name), s.labels, s.value) for s in family.samples if "created" not in s.name
        ]

    assert samples("quick_seconds") == samples("plain_seconds")


@pytest.mark.parametrize(
    ("method", "path", "broken_handler"),
    [
        ("GET", "/v1/forms/newsletter", "form_config"),  # through Starlette's router and error layers
        ("POST", "/v1/verify", "verify"),  # called straight by the edge (service.web.direct)
    ],
)
async def test_an_unexpected_error_is_a_500_with_the_headers_a_request_id_and_its_log_line(
    db_url: str,
    nameserver: str,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    broken_handler: str,
) -> None:
    """No route is known to fail: one is made to, as a bug would (Starlette answers a 500 from
    outside every middleware in its list; the edge sits outside that too, and answers it itself
    for a route it calls straight)."""
    from service.web import api

    async def broken(request: object) -> None:
        raise RuntimeError("a bug")

    class Lines(logging.Handler):
        """What the JSON log would say: each line with the request it was written for."""

        def __init__(self) -> None:
            super().__init__()
            self.lines: list[tuple[str, str | None]] = []

        def emit(self, record: logging.LogRecord) -> None:
            request = CURRENT.get()
            self.lines.append((record.getMessage(), request.id if request else None))

    monkeypatch.setattr(api, broken_handler, broken)
    lines = Lines()
    logging.getLogger("optin").addHandler(lines)
    try:
        async with serve(configure(db_url, nameserver)) as (url, _), client(url) as http:
            answer = await http.request(
                method, path, headers={"X-Request-ID": "req-500-test"}, json={"email": "a@example.com"}
            )
    finally:
        logging.getLogger("optin").removeHandler(lines)
    assert answer.status_code == 500
    assert answer.json() == {"error": "something went wrong on our side; nothing was lost, please retry"}
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    assert answer.headers.get_list("strict-transport-security") == ["max-age=31536000; includeSubDomains"]
    assert answer.headers.get_list("x-request-id") == ["req-500-test"]
    assert (f"unexpected error on {method} {path}", "req-500-test") in lines.lines
