"""What happened to each request: an id for it, its status and time, for the logs and /metrics.

The id is the ``X-Request-ID`` a proxy sent (when it looks like one: short, plain characters),
else a fresh one; the response carries it back and every log line written while answering
names it. Latency is observed per route template (``/confirm/{token}``), never per path.
service.web.edge calls these for every request.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable

from starlette.routing import BaseRoute, Route

from service import metrics
from service.log_json import RequestInfo

_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
HEADER = b"x-request-id"
now = time.perf_counter  # when a request arrived (RequestInfo.started)


def route_templates(routes: Iterable[BaseRoute]) -> dict[object, str]:
    found: dict[object, str] = {}
    for route in routes:
        if isinstance(route, Route):
            found.setdefault(route.endpoint, route.path)
    return found


class RequestIds:
    def __init__(self) -> None:
        # A random prefix per process and a counter: unique, and no system call per request.
        self._prefix = secrets.token_hex(4)
        self._count = 0

    def pick(self, given: bytes | None) -> str:
        """The id a proxy sent when it looks like one, else a fresh one."""
        if given is not None:
            text = given.decode("latin-1")
            if _GOOD_ID.fullmatch(text):
                return text
        self._count += 1
        return f"{self._prefix}{self._count:08x}"


def response_started(info: RequestInfo, status: int) -> tuple[bytes, bytes]:
    """Note the status and time to the first byte; the id header the answer carries."""
    info.status = status
    info.seconds = now() - info.started
    return (HEADER, info.id.encode("latin-1"))


class Latencies:
    """Each request's time to /metrics, under its route template (``unmatched`` for no route)."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.templates = route_templates(routes)
        # By endpoint, method and status: a handful of series, each looked up once.
        self._observers: dict[tuple[object, str, int], Callable[[float], None]] = {}

    def finished(self, endpoint: object, info: RequestInfo) -> None:
        """Observe a request that has ended (one that never answered counts as a 500)."""
        method = info.method if info.method in metrics.METHODS else "other"
        key = (endpoint, method, info.status or 500)
        observe = self._observers.get(key)
        if observe is None:
            route = self.templates.get(endpoint, "unmatched")
            observe = self._observers[key] = metrics.request_observer(route, method, key[2])
        observe(now() - info.started)
