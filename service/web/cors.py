"""CORS limited to each form's allowed origins (plus our own public origin).

A browser on any other site may not read our answers, and a cross-site POST from a page that
is not allowed is refused outright, so a form cannot be embedded where its owner did not say.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.settings import Settings

_FORM_PATH = re.compile(r"^/v1/forms/([^/]+)(?:/|$)")


class FormCors:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        raw_origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if raw_origin is None:  # not a browser cross-origin call: server-to-server, curl, same-origin GET
            await self.app(scope, receive, send)
            return
        origin = raw_origin.decode("latin-1")
        ok = self.allowed(scope["path"], scope.get("query_string", b"").decode("latin-1"), origin)
        preflight = any(k == b"access-control-request-method" for k, _ in scope["headers"])
        if scope["method"] == "OPTIONS" and preflight:
            await _preflight(send, origin, ok)
            return
        if not ok:
            await _json(send, 403, {"error": f"{origin} is not allowed to use this form"})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(send: Send, origin: str, ok: bool) -> None:
    if not ok:
        await _json(send, 403, {"error": f"{origin} is not allowed to use this form"})
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


async def _json(send: Send, status: int, body: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
