"""CORS limited to each form's allowed origins (plus our own public origin).

A browser on any other site may not read our answers, and a cross-site POST from a page that
is not allowed is refused outright, so a form cannot be embedded where its owner did not say.
Only ``/v1/`` answers carry CORS headers; service.web.edge applies this to every request.
"""

from __future__ import annotations

import json
import re

from starlette.types import Send

from service.settings import Settings

_FORM_PATH = re.compile(r"^/v1/forms/([^/]+)(?:/|$)")
PREFIX = "/v1/"


class FormOrigins:
    """Which web pages may call which form."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.own = settings.server.origin
        self.every_form = {o for f in settings.forms.values() for o in f.allowed_origins}

    def allowed(self, path: str, query: str, origin: str) -> bool:
        if origin == self.own:
            return True
        match = _FORM_PATH.match(path)
        form_id = match.group(1) if match else None
        if form_id is None and path == "/v1/verify":
            form_id = next(
                (v for k, _, v in (p.partition("=") for p in query.split("&")) if k == "form"), None
            )
        form = self.settings.forms.get(form_id or "")
        return origin in (form.allowed_origins if form else self.every_form)


def allow_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
    """What an answer to an allowed cross-origin call adds."""
    return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]


async def preflight(send: Send, origin: str, ok: bool) -> None:
    if not ok:
        await refuse(send, origin)
        return
    headers = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", b"GET, POST"),
        (b"access-control-allow-headers", b"content-type"),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def refuse(send: Send, origin: str) -> None:
    data = json.dumps({"error": f"{origin} is not allowed to use this form"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": data})
