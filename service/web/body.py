"""Reading request bodies safely: a size cap, JSON or form-encoded, errors in words."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from service.errors import InputError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def wants_html(request: Request) -> bool:
    """A plain HTML form post (no JavaScript) expects a page or a redirect, not JSON."""
    content_type = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return content_type.startswith(FORM_TYPES) and "application/json" not in accept


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InputError(f"the request body is larger than {limit} bytes", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise InputError(f"the request body is larger than {limit} bytes", status=413)
    return bytes(body)


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
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("the body is not valid JSON (or is nested too deeply)", status=400) from None
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
        return dict(parse_qsl(text, keep_blank_values=True))
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


def truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes", "y")
