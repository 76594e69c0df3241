"""Reading request bodies safely: a size cap, JSON or form-encoded, errors in words."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import InputError
from service.numbers import whole_number

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def wants_html(request: Request) -> bool:
    """A plain HTML form post (no JavaScript) expects a page or a redirect, not JSON."""
    content_type = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return content_type.startswith(FORM_TYPES) and "application/json" not in accept


def too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class BodyTooLarge(InputError):
    """Raised from ``receive`` once a request's body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(too_large(limit), status=413)


async def refuse_too_large(scope: Scope, send: Send, limit: int) -> None:
    """The 413 (JSON under /v1/, text elsewhere); the server closes the connection after it
    rather than drain the rest of the body."""
    message = too_large(limit)
    if scope["path"].startswith("/v1/"):
        body, media = json.dumps({"error": message, "field": None}).encode(), b"application/json"
    else:
        body, media = message.encode(), b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", media),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def call_counting(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """Run ``app`` on a request whose body size is not declared (chunked), counting it as read.

    Past ``limit``, ``receive`` raises :class:`BodyTooLarge` (an InputError, so routes that
    answer those answer 413 themselves) and whatever else the route answers is replaced by a 413.
    Nothing past the limit is read. (A declared Content-Length is checked before the route runs,
    by service.web.edge: the server delivers exactly that length and no more.)
    """
    received = 0
    over = False
    answer: str | None = None  # whose response goes out: "route" or "ours"

    async def counted() -> Message:
        nonlocal received, over
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                over = True
                raise BodyTooLarge(limit)
        return message

    async def guarded(message: Message) -> None:
        nonlocal answer
        if message["type"] == "http.response.start":
            answer = "ours" if over and message["status"] != 413 else "route"
            if answer == "ours":
                await refuse_too_large(scope, send, limit)
        if answer == "route":
            await send(message)

    try:
        await app(scope, counted, guarded)
    except BodyTooLarge:
        pass  # nothing past the limit was read; the answer is below (or already out)
    if over and answer is None:
        await refuse_too_large(scope, send, limit)


async def receive_body(request: Request, limit: int | None = None) -> bytes:
    """The whole body, as ``request.body()`` reads it (and kept for it), without its async
    generator: most bodies come in one message. Past ``limit`` bytes: a 413 InputError."""
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if limit is not None and size > limit:
                raise InputError(too_large(limit), status=413)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body  # what Starlette's Request.body() and .form() read after us
    return body


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if (size := whole_number(declared)) is not None and size > limit:
        raise InputError(too_large(limit), status=413)
    return await receive_body(request, limit)


async def read_fields(request: Request, limit: int) -> dict[str, Any]:
    """The submitted fields as a flat dict, whether sent as JSON or as a form."""
    return parse_fields(await read_body(request, limit), request.headers.get("content-type", ""))


MAX_JSON_DEPTH = 16  # a signup is flat; a hook envelope is three levels deep


def load_json(raw: bytes) -> Any:
    """Parse a JSON body into values that are safe to store, render and send.

    Refused with a 400: invalid JSON, nesting deeper than :data:`MAX_JSON_DEPTH` (a 2 KB body of
    ``[`` would exhaust the parser's recursion), and lone UTF-16 surrogates (JSON may spell
    ``"\\ud800"``; no database, page or email can hold one).
    """
    utf8 = True  # strict UTF-8 holds no surrogate: only a \\u escape can spell one
    try:
        try:  # UTF-8, as JSON on the wire is (RFC 8259): no encoding to detect
            data = json.loads(raw.decode("utf-8") if raw else "null")
        except ValueError:  # a BOM, UTF-16, surrogates in UTF-8 (json.loads reads them all); bad JSON
            utf8 = False
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("the body is not valid JSON (or is nested too deeply)", status=400) from None
    if utf8 and b"\\u" not in raw and raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return data  # no escape can hide a surrogate, and too few brackets to nest too deep: done
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise InputError(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep", status=400)
        if isinstance(value, str):
            _check_unicode(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_unicode(key)
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return data


def _check_unicode(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            "the body holds text that is not valid Unicode (a lone surrogate such as \\ud800)", status=400
        ) from None


def parse_fields(raw: bytes, content_type_header: str) -> dict[str, Any]:
    content_type = content_type_header.split(";")[0].strip().lower()
    if content_type == "application/json" or (not content_type and raw.lstrip().startswith(b"{")):
        data = load_json(raw)
        if not isinstance(data, dict):
            raise InputError('the JSON body must be an object such as {"email": "..."}', status=400)
        return data
    if content_type == "application/x-www-form-urlencoded":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the form body is not valid UTF-8", status=400) from None
        fields: dict[str, Any] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            # A key sent twice (checkboxes named "lists") is a list of its values.
            if key in fields:
                previous = fields[key]
                fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                fields[key] = value
        return fields
    if content_type == "multipart/form-data":
        raise InputError("send the form as application/x-www-form-urlencoded or JSON", status=415)
    raise InputError("send JSON (application/json) or a form (application/x-www-form-urlencoded)", status=415)


def text_field(data: dict[str, Any], name: str, *, max_length: int = 500) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} must be text", field=name)
    if len(value) > max_length:
        raise InputError(f"{name} is longer than {max_length} characters", field=name)
    return value


def truthy(value: object, name: str = "consent") -> bool:
    """A form's checkbox: true, or "1", "true", "on", "yes", "y"; absent, false or other text is
    no. Any other type breaks the documented schema and is refused (422)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if not isinstance(value, str):
        raise InputError(f"{name} must be true, false or text", field=name)
    return value.strip().lower() in ("1", "true", "on", "yes", "y")
