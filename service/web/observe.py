"""What happened to each request: an id for it, its status and time, for the logs and /metrics.

The id is the ``X-Request-ID`` a proxy sent (when it looks like one: short, plain characters),
else a fresh one; the response carries it back and every log line written while answering
names it. Latency is observed per route template (``/confirm/{token}``), never per path.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.log_json import CURRENT, RequestInfo

_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
HEADER = b"x-request-id"


def route_templates(routes: Iterable[BaseRoute]) -> dict[object, str]:
    found: dict[object, str] = {}
    for route in routes:
        if isinstance(route, Route):
            found.setdefault(route.endpoint, route.path)
    return found


class ObserveRequests:
    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.templates = route_templates(routes)
        self._prefix = secrets.token_hex(4)
        self._count = 0

    def _id(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == HEADER:
                given = str(value.decode("latin-1"))
                if _GOOD_ID.fullmatch(given):
                    return given
        # A random prefix per process and a counter: unique, and no system call per request.
        self._count += 1
        return f"{self._prefix}{self._count:08x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(self._id(scope), scope["method"], scope["path"], time.perf_counter())
        token = CURRENT.set(info)

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                info.status = int(message["status"])
                info.seconds = time.perf_counter() - info.started
                message["headers"] = [*message.get("headers", []), (HEADER, info.id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = self.templates.get(scope.get("endpoint"), "unmatched")
            metrics.observe_request(
                route, info.method, info.status or 500, time.perf_counter() - info.started
            )
            CURRENT.reset(token)
