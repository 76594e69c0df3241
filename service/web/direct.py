"""Routes the edge may call straight, past Starlette's error layers and its router.

A cached ``POST /v1/verify`` spent an eighth of its instructions (46 k of 371 k) in layers that
had nothing to do for it: Starlette's two error middlewares (each one more coroutine around every
``send``, one building a Request per call) and the router trying each route's pattern in turn. A
route whose app answers every error itself (service.web.context.SelfContained) at a fixed path
is found by (method, path) in one dictionary look-up instead; the edge then does what those
layers would have done for it (service.web.edge). Any other method or path goes the usual way,
so a 405 or 404 is still Starlette's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from service.web.context import SelfContained


class Direct(NamedTuple):
    route: Route
    handler: Callable[[Request], Awaitable[Response]]


def direct_routes(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], Direct]:
    """(method, path) → the route the router would pick, for the self-contained fixed routes."""
    table = list(routes)
    found: dict[tuple[str, str], Direct] = {}
    for index, route in enumerate(table):
        if not (isinstance(route, Route) and isinstance(route.app, SelfContained)):
            continue
        if route.param_convertors or not route.methods:
            continue
        for method in sorted(route.methods):
            scope = {"type": "http", "method": method, "path": route.path, "root_path": ""}
            # Only where no earlier route would have taken the request first.
            if all(earlier.matches(scope)[0] is not Match.FULL for earlier in table[:index]):
                found.setdefault((method, route.path), Direct(route, route.app.handler))
    return found
