"""Malformed requests from strangers: every one is a 4xx that says what is wrong, never a 5xx.

The attacks first (signature headers with odd digits, deeply nested JSON, lone surrogates), then
hypothesis throwing generated headers and bodies at the hook and subscribe endpoints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.hooks import sign
from service.settings import Settings
from service.settings_types import ServerSettings
from tests.support.app_server import base_config, client, make_settings, serve, stored
from tests.support.threaded_server import threaded_service

HOOK_SECRET = "malformed-hook-secret-0123456789"
URL_TOKEN = "t" * 30
HOOK = "/v1/hooks/newsletter"
SUBSCRIBE = "/v1/forms/newsletter/subscribe"
MAX_BODY = ServerSettings.max_body_bytes  # the default the service under test runs with


def with_hook(db_url: str, nameserver: str) -> Callable[[str], Settings]:
    def configure(url: str) -> Settings:
        config = base_config(db_url, url, nameserver)
        config["forms"]["newsletter"]["hook"] = {
            "secret": HOOK_SECRET,
            "url_token": URL_TOKEN,
            "email_field": "email",
            "consent_field": "consent",
        }
        return make_settings(config)

    return configure


def submission(email: str = "ann@example.org", **meta: str) -> bytes:
    return json.dumps({"fields": {"email": email, "consent": "1"}, "meta": meta}).encode()


def now() -> int:
    return int(time.time())


async def test_odd_signature_headers_are_refused_in_words(db_url: str, nameserver: str) -> None:
    body = submission()
    good = sign(HOOK_SECRET, now(), body).split(",v1=")[1].encode()
    headers = [
        b"t=\xb2,v1=" + good,  # "²" once decoded as Latin-1: str.isdigit() says yes, int() says no
        b"t=\xb9\xb3,v1=" + good,
        b"t=" + b"9" * 5000 + b",v1=" + good,  # past int()'s 4,300-digit limit
        b"t=" + b"1" * 40 + b",v1=" + good,
        f"t={now()},v1=".encode() + "é".encode() * 32,  # non-ASCII: compare_digest raises TypeError
        f"t={now()},v1=".encode() + b"\xe9" * 64,
        f"t={now()},v1=".encode() + b"\xff",
        f"t={now()},v1=,v1={'0' * 64}".encode(),
        b"t=,v1=",
        b",,,=,=",
        b"t=-5,v1=" + good,
        b"t=+5,v1=" + good,
        b"t=\xd9\xa1\xd9\xa2,v1=" + good,  # Arabic-Indic digits in UTF-8
    ]
    async with serve(with_hook(db_url, nameserver)) as (url, _), client(url) as http:
        for header in headers:
            answer = await http.post(HOOK, content=body, headers=[(b"Optin-Signature", header)])
            assert answer.status_code == 401, (header[:40], answer.status_code, answer.text)
            assert "Optin-Signature" in answer.json()["error"] or "signature" in answer.json()["error"]
        assert await stored(db_url) == []


NESTED = b"[" * 2048
NESTED_OBJECT = b'{"email": ' + b'{"a": ' * 600 + b"1" + b"}" * 600 + b"}"


async def test_deeply_nested_json_is_a_400(db_url: str, nameserver: str) -> None:
    async with serve(with_hook(db_url, nameserver)) as (url, _), client(url) as http:
        json_type = {"Content-Type": "application/json"}
        for body in (NESTED, NESTED_OBJECT, b'{"email": "ann@example.org", "x": ' + NESTED + b"}"):
            for path in (SUBSCRIBE, "/v1/verify", f"{HOOK}/{URL_TOKEN}"):
                answer = await http.post(path, content=body, headers=json_type)
                assert answer.status_code == 400, (path, answer.status_code, answer.text)
                assert answer.json()["error"], answer.text
            signed_body = {"Optin-Signature": sign(HOOK_SECRET, now(), body), **json_type}
            hooked = await http.post(HOOK, content=body, headers=signed_body)
            assert hooked.status_code == 400, hooked.text


async def test_lone_surrogates_are_a_400(db_url: str, nameserver: str) -> None:
    """JSON may spell a lone UTF-16 surrogate (\\ud800); no text we store or send may hold one."""
    lone = "\\ud800"
    bodies = [
        f'{{"email": "ann{lone}@example.org", "consent": true}}',
        f'{{"email": "ann@example.org", "consent": true, "page_url": "https://example.com/{lone}"}}',
        f'{{"email": "ann@example.org", "consent": true, "first_name": "Ann{lone}"}}',
        f'{{"email": "ann@example.org", "consent": true, "x{lone}": 1}}',
        f'{{"email": "ann@example.org", "consent": true, "language": "e{lone}"}}',
    ]
    async with serve(with_hook(db_url, nameserver)) as (url, _), client(url) as http:
        json_type = {"Content-Type": "application/json"}
        for text in bodies:
            for path in (SUBSCRIBE, "/v1/verify"):
                answer = await http.post(path, content=text.encode(), headers=json_type)
                assert answer.status_code == 400, (path, text, answer.status_code, answer.text)
                assert "Unicode" in answer.json()["error"]
        # Not an escape but the surrogate's own bytes, in UTF-8 or UTF-16: json.loads reads both.
        raw = '{"email": "ann@example.org", "consent": true, "first_name": "Ann\ud800"}'
        for encoded in (raw.encode("utf-8", "surrogatepass"), raw.encode("utf-16", "surrogatepass")):
            for path in (SUBSCRIBE, "/v1/verify"):
                answer = await http.post(path, content=encoded, headers=json_type)
                assert answer.status_code == 400, (path, encoded, answer.status_code, answer.text)
                assert "Unicode" in answer.json()["error"]
        hook_bodies = [
            f'{{"fields": {{"email": "ann{lone}@example.org", "consent": "1"}}}}',
            f'{{"fields": {{"email": "ann@example.org", "consent": "1"}}, "meta": {{"page_url": "{lone}"}}}}',
            f'{{"fields": {{"email": "ann@example.org", "consent": "1"}}, "meta": {{"user_agent": "{lone}"}}}}',
        ]
        for text in hook_bodies:
            answer = await http.post(f"{HOOK}/{URL_TOKEN}", content=text.encode(), headers=json_type)
            assert answer.status_code == 400, (text, answer.status_code, answer.text)
        # A form post cannot carry one (percent-decoding replaces it), and is accepted.
        form = await http.post(
            SUBSCRIBE, data={"email": "ann@example.org", "consent": "1", "page_url": "%ED%A0%80"}
        )
        assert form.status_code == 303, form.text
        assert len(await stored(db_url)) == 1


# --- generated requests --------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(nameserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    database = f"sqlite:///{tmp_path_factory.mktemp('malformed') / 'optin.db'}"
    with (
        threaded_service(with_hook(database, nameserver)) as url,
        httpx.Client(base_url=url, timeout=10) as http,
    ):
        yield http


def _header_safe(value: bytes) -> bytes:
    """What an HTTP/1.1 header value may carry at all (visible bytes, inner spaces and tabs)."""
    return bytes(b for b in value if b == 9 or 32 <= b < 127 or b >= 128).strip(b" \t")


# Digits as str.isdigit() sees them once a header is decoded as Latin-1 or a body as UTF-8.
odd_digits = st.text(st.sampled_from("0123456789²³¹٣٤۵०௫１"), min_size=1, max_size=20) | st.integers(
    1, 6000
).map(lambda n: "7" * n)
header_values = st.one_of(
    st.binary(max_size=300).map(_header_safe),
    st.text(max_size=200).map(lambda t: _header_safe(t.encode("utf-8"))),
    st.builds(
        lambda t, v, encoding: f"t={t},v1={v}".encode(encoding, "replace"),
        st.one_of(st.integers(), odd_digits, st.text(max_size=30)),
        st.one_of(st.text(max_size=80), st.text("0123456789abcdefABCDEFé", min_size=60, max_size=70)),
        st.sampled_from(["utf-8", "latin-1"]),
    ).map(_header_safe),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(
    ["email", "consent", "first_name", "page_url", "optin_hp", "language", "fields", "meta"]
)


def _with_lone_surrogate(where: str, name: str, point: int) -> bytes:
    """A signup that would be accepted but for one field holding a lone surrogate (JSON escape)."""
    fields = {"email": "ann@example.org", "consent": "1"}
    meta = {"page_url": "https://example.com/", "user_agent": "Firefox"}
    spot = {"": fields, "fields": fields, "meta": meta}[where]
    spot[name] = f"x{chr(0xE000)}"
    body = {"fields": fields, "meta": meta} if where else fields
    return json.dumps(body).replace("\\ue000", f"\\u{point:04x}").encode()


bodies = st.one_of(
    st.binary(max_size=600),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(field_names, json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(field_names, json_values, max_size=6).map(
        lambda d: json.dumps({"fields": d, "meta": d}).encode()
    ),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    # deep nesting, and lone surrogates spelled as JSON escapes, in any field
    st.builds(
        lambda n, open_: open_ * n, st.integers(1, 3000), st.sampled_from([b"[", b'{"a":', b'{"fields":'])
    ),
    st.builds(
        _with_lone_surrogate,
        st.sampled_from(["", "fields", "meta"]),
        field_names,
        st.integers(0xD800, 0xDFFF),
    ),
)


content_types = st.sampled_from(
    [
        b"application/json",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"text/plain",
        b"application/json; charset=latin-1",
        b"",
    ]
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _status(live: httpx.Client, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """The answer's status. A body over the limit is answered 413 at once and the connection
    closed without reading the rest (by design: nobody makes us read more); a client still
    sending may then see the connection reset before it reads the 413, which is no 5xx."""
    try:
        answer = live.post(path, content=body, headers=headers)
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        if len(body) > MAX_BODY:
            return 413
        raise
    assert answer.status_code < 500, answer.text
    return answer.status_code


@FUZZ
@given(signature=header_values, body=bodies, content_type=content_types)
def test_generated_hook_requests_never_get_a_5xx(
    live: httpx.Client, signature: bytes, body: bytes, content_type: bytes
) -> None:
    headers = [(b"Optin-Signature", signature), (b"Content-Type", content_type)]
    assert _status(live, HOOK, body, headers) < 500
    assert _status(live, f"{HOOK}/{URL_TOKEN}", body, headers[1:]) < 500


@FUZZ
@given(body=bodies, content_type=content_types, referer=header_values, agent=header_values)
def test_generated_subscribe_requests_never_get_a_5xx(
    live: httpx.Client, body: bytes, content_type: bytes, referer: bytes, agent: bytes
) -> None:
    headers = [(b"Content-Type", content_type), (b"Referer", referer), (b"User-Agent", agent)]
    assert _status(live, SUBSCRIBE, body, headers) < 500
    assert _status(live, "/v1/verify", body, headers) < 500
