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


def parse_fields(raw: bytes, content_type_header: str) -> dict[str, Any]:
    content_type = content_type_header.split(";")[0].strip().lower()
    if content_type == "application/json" or (not content_type and raw.lstrip().startswith(b"{")):
        try:
            data = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise InputError("the body is not valid JSON", status=400) from None
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


def truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes", "y")
