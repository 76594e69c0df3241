"""JSON answers for the hot routes, the same bytes as Starlette's ``JSONResponse``, for less.

``JSONResponse`` builds a new ``json.JSONEncoder`` for every answer (``json.dumps`` with
arguments does) and works its headers out from a dict; here the encoder is made once and the
headers are put together directly. Used where every visitor's request lands (``/v1/verify``,
subscribe); anywhere else ``JSONResponse`` is just as good.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

# Exactly JSONResponse.render's settings, so the bytes are the same.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
NO_STORE = ((b"cache-control", b"no-store"),)


def json_bytes(content: Any) -> bytes:
    return _ENCODER.encode(content).encode("utf-8")


class JsonAnswer(Response):
    media_type = "application/json"

    def __init__(
        self, body: bytes, status_code: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        """``body``: JSON already encoded; ``headers``: more raw headers (lower-case names)."""
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"application/json"),
            *headers,
        ]


def json_answer(
    content: Any, status_code: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()
) -> JsonAnswer:
    return JsonAnswer(json_bytes(content), status_code, headers)
