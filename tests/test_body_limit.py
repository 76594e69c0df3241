"""Every route that reads a body stops at ``server.max_body_bytes`` with a 413, before reading it all.

Four concurrent 250 MB posts to ``/confirm/…`` once took the process to 1 GB. The posts here are
sent the two ways a client can: with a Content-Length over the limit, and in chunks with no
Content-Length at all (the server learns the size only by reading).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from service.settings import Settings
from tests.support.app_server import base_config, client, make_settings, serve, stored

LIMIT = 16_384  # the default server.max_body_bytes
URL_TOKEN = "b" * 30
HOOK_SECRET = "body-limit-hook-secret-0123456789"


def configure(db_url: str, nameserver: str) -> Callable[[str], Settings]:
    def build(url: str) -> Settings:
        config = base_config(db_url, url, nameserver)
        config["forms"]["newsletter"]["hook"] = {"secret": HOOK_SECRET, "url_token": URL_TOKEN}
        return make_settings(config)

    return build


# Every POST route of the app; each reads its body (the unsubscribe button only on one-click).
ROUTES = [
    ("/v1/forms/newsletter/subscribe", "application/json"),
    ("/v1/forms/newsletter/subscribe", "application/x-www-form-urlencoded"),
    ("/v1/verify", "application/json"),
    ("/v1/hooks/newsletter", "application/json"),
    (f"/v1/hooks/newsletter/{URL_TOKEN}", "application/x-www-form-urlencoded"),
    ("/confirm/some-token", "application/x-www-form-urlencoded"),
    ("/confirm/some-token", "multipart/form-data; boundary=xyz"),
    ("/confirm/resend", "application/x-www-form-urlencoded"),
    ("/confirm/resend", "multipart/form-data; boundary=xyz"),
    ("/unsubscribe/some-token", "application/x-www-form-urlencoded"),
]


def filler(content_type: str, size: int) -> bytes:
    """A well-formed body of exactly ``size`` bytes: a form field, a multipart part or JSON."""
    if content_type.startswith("multipart"):
        head, tail = b'--xyz\r\nContent-Disposition: form-data; name="nonce"\r\n\r\n', b"\r\n--xyz--\r\n"
        body = head + b"n" * (size - len(head) - len(tail)) + tail
    elif content_type.endswith("json"):
        empty = json.dumps({"email": "ann@example.org", "pad": ""})
        body = json.dumps({"email": "ann@example.org", "pad": "p" * (size - len(empty))}).encode()
    else:
        body = b"token=" + b"t" * (size - 6)
    assert len(body) == size
    return body


async def post_in_chunks(url: str, path: str, content_type: str, total: int) -> tuple[int, int]:
    """POST ``total`` bytes with Transfer-Encoding: chunked and no Content-Length, stopping as
    soon as the server answers; (status, bytes sent before the answer)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    answer = asyncio.create_task(reader.readline())
    sent, chunk = 0, b"a" * 65_536
    try:
        while sent < total and not answer.done():
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            await writer.drain()
        if not answer.done():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server answered and closed while we were still sending
    status_line = await asyncio.wait_for(answer, 30)
    writer.close()
    return int(status_line.split()[1]), sent


@pytest.mark.parametrize(("path", "content_type"), ROUTES)
async def test_a_declared_body_over_the_limit_is_a_413(
    db_url: str, nameserver: str, path: str, content_type: str
) -> None:
    async with serve(configure(db_url, nameserver)) as (url, _), client(url) as http:
        fits = await http.post(
            path, content=filler(content_type, LIMIT), headers={"Content-Type": content_type}
        )
        assert fits.status_code != 413, fits.text
        over = await http.post(
            path, content=filler(content_type, LIMIT + 1), headers={"Content-Type": content_type}
        )
        assert over.status_code == 413, (over.status_code, over.text[:200])
        assert str(LIMIT) in over.text


@pytest.mark.parametrize(("path", "content_type"), ROUTES[:-1])
async def test_a_chunked_body_is_cut_off_at_the_limit(
    db_url: str, nameserver: str, path: str, content_type: str
) -> None:
    total = 32 * 1024 * 1024
    async with serve(configure(db_url, nameserver)) as (url, _):
        status, sent = await post_in_chunks(url, path, content_type, total)
        assert status == 413
        # The server stopped reading: what we got out is what the socket buffers took.
        assert sent < total
        async with client(url) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert await stored(db_url) == []


async def test_four_concurrent_huge_posts_are_all_refused(db_url: str, nameserver: str) -> None:
    total = 64 * 1024 * 1024
    async with serve(configure(db_url, nameserver)) as (url, _):
        results = await asyncio.gather(
            *(
                post_in_chunks(url, p, "application/x-www-form-urlencoded", total)
                for p in ("/confirm/x", "/confirm/resend") * 2
            )
        )
        assert [status for status, _ in results] == [413] * 4
        assert all(sent < total for _, sent in results)
