"""The common part of every fake ESP: a Starlette app served by uvicorn on 127.0.0.1.

A fake records every request, lets a test queue failures (``fail_next``) in the vendor's own
error format, and hands each request and its reply to an optional ``checker`` (the contract
tests plug an OpenAPI validator in there) whose complaints pile up in ``violations``; a checker
that itself fails is one more complaint, never a 500 in place of the vendor's answer.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Handler = Callable[[Request, Any], Awaitable[Response]]
Checker = Callable[[Request, bytes, Response], list[str]]


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    path_contains: str = ""


def reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    if body is None:
        return Response(status_code=status, headers=dict(headers or {}))
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _run(checker: Checker, request: Request, raw: bytes, response: Response) -> list[str]:
    try:
        return checker(request, raw, response)
    except Exception as exc:
        # A checker that breaks must not turn the vendor's answer into a 500: the test would then
        # report a wrong status, not the reason. The fixture fails on this complaint instead.
        return [f"contract check of {request.method} {request.url.path} could not run: {exc!r}"]


class FakeEsp:
    """Subclasses add routes with :meth:`route` and implement :meth:`error_body`."""

    vendor = "fake"

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.faults: deque[Fault] = deque()
        self.violations: list[str] = []
        self.checker: Checker | None = None
        self.routes: list[Route] = []
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what tests use --------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        path_contains: str = "",
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` in the vendor's format."""
        hdrs = {**self.error_headers(status), **(headers or {})}
        for _ in range(times):
            self.faults.append(Fault(status, hdrs, self.error_body(status), path_contains))

    def requests_to(self, method: str, fragment: str = "") -> list[Seen]:
        return [s for s in self.seen if s.method == method and fragment in s.path]

    # -- what vendors define ---------------------------------------------------------------------

    def error_body(self, status: int) -> Any:
        raise NotImplementedError

    def error_headers(self, status: int) -> dict[str, str]:
        return {}

    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def route(self, path: str, method: str, handler: Handler) -> None:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            body = json.loads(raw) if raw else None
            self.seen.append(
                Seen(
                    request.method, request.url.path, dict(request.query_params), dict(request.headers), body
                )
            )
            response = await self._answer(request, handler, body)
            if self.checker is not None:
                self.violations.extend(_run(self.checker, request, raw, response))
            return response

        self.routes.append(Route(path, endpoint, methods=[method]))

    async def _answer(self, request: Request, handler: Handler, body: Any) -> Response:
        if self.faults and self.faults[0].path_contains in request.url.path:
            fault = self.faults.popleft()
            return reply(fault.body, fault.status, fault.headers)
        if not self.authorized(request):
            return reply(self.error_body(401), 401, self.error_headers(401))
        return await handler(request, body)

    # -- serving ---------------------------------------------------------------------------------

    async def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(Starlette(routes=self.routes), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
