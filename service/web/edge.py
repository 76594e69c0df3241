"""The one middleware: what every request gets on its way in and its answer on its way out.

In one ASGI layer, one pass over the request's headers and one wrapper around ``send``:

- a request id and its latency (service.web.observe): the id is in every log line written while
  answering and in the answer's ``X-Request-ID``; the latency goes to /metrics by route template;
- the security headers every answer carries (service.web.security);
- CORS for ``/v1/`` (service.web.cors): a preflight answered here, a page that is not allowed
  refused here, an allowed one's answer marked for its origin;
- a 429 on a visitor's route is counted before it goes out (service.antibot.watch);
- the body limit (service.web.body): a declared Content-Length over the limit is a 413 before
  the route runs; a chunked body is counted as the route reads it.

Five middlewares did this before, each wrapping ``send`` again: together they cost a quarter of
a cached ``POST /v1/verify``. The common request (no Origin, a declared Content-Length or no
body, a 2xx) takes the shortest way through here, and a self-contained route at a fixed path
(service.web.direct) is called straight from here, past Starlette's error layers and router,
whose work for it (the route in the scope, the 500 for a bug) the edge does itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.antibot.watch import note_refusal_for, watched
from service.log_json import CURRENT, RequestInfo
from service.settings import Settings
from service.web import body, cors, observe
from service.web.direct import Direct, direct_routes
from service.web.security import SecurityHeaders

ErrorAnswer = Callable[[Request, Exception], Awaitable[Response]]


class Edge:
    def __init__(
        self, app: ASGIApp, routes: Iterable[BaseRoute], settings: Settings, on_error: ErrorAnswer
    ) -> None:
        self.app = app
        routes = list(routes)
        self.latencies = observe.Latencies(routes)
        self.direct = direct_routes(routes)
        self.on_error = on_error  # the 500 Starlette's error layer would answer
        self.ids = observe.RequestIds()
        self.security = SecurityHeaders(https=settings.server.public_url.startswith("https://"))
        self.origins = cors.FormOrigins(settings)
        self.limit = settings.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = origin = declared = None
        chunked = preflight = False
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
            if name == b"content-length":
                declared = value if declared is None else declared
            elif name == b"origin":
                origin = value if origin is None else origin
            elif name == b"x-request-id":
                given = value if given is None else given
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"access-control-request-method":
                preflight = True
        path: str = scope["path"]
        info = RequestInfo(self.ids.pick(given), scope["method"], path, observe.now())
        token = CURRENT.set(info)
        allow: bytes | None = None  # the Origin an allowed cross-origin call's answer names

        def answer(message: Message) -> Awaitable[None]:
            # Not a coroutine itself: a body goes straight to the server's own send.
            if message["type"] == "http.response.start":
                if message["status"] == 429 and watched(path):
                    return self._noted_first(scope, info, allow, message, send)
                self._decorate(info, allow, message)
            return send(message)

        try:
            if origin is not None and path.startswith(cors.PREFIX):
                text = origin.decode("latin-1")
                ok = self.origins.allowed(path, scope.get("query_string", b"").decode("latin-1"), text)
                if scope["method"] == "OPTIONS" and preflight:
                    await cors.preflight(answer, text, ok)
                    return
                if not ok:
                    await cors.refuse(answer, text)
                    return
                allow = origin
            if chunked:  # Transfer-Encoding wins over any Content-Length (RFC 9112 §6.3)
                await body.call_counting(self.app, scope, receive, answer, self.limit)
            elif declared is None or (
                declared.isdigit() and len(declared) <= 18 and int(declared) <= self.limit
            ):
                # No body (neither header: RFC 9112 §6.3), or exactly the declared length, which
                # the server delivers and no more: nothing to count.
                direct = self.direct.get((scope["method"], path))
                if direct is None or scope.get("root_path"):
                    await self.app(scope, receive, answer)
                else:
                    await self._direct(direct, scope, receive, answer, send, info)
            elif declared.isdigit():
                await body.refuse_too_large(scope, answer, self.limit)
            else:  # not a number: count what is read
                await body.call_counting(self.app, scope, receive, answer, self.limit)
        finally:
            self.latencies.finished(scope.get("endpoint"), info)
            CURRENT.reset(token)

    async def _direct(
        self, direct: Direct, scope: Scope, receive: Receive, answer: Send, send: Send, info: RequestInfo
    ) -> None:
        """Run a self-contained route as the router would, and answer a bug as Starlette would."""
        scope["route"] = direct.route
        scope["endpoint"] = direct.route.endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            await _respond(await direct.handler(request), scope, receive, answer, send)
        except Exception as exc:
            if info.status is None:  # nothing sent yet: the same 500 as any other route's
                await _respond(await self.on_error(request, exc), scope, receive, answer, send)
            raise  # on to the server's log, as Starlette's error layer does

    async def _noted_first(
        self, scope: Scope, info: RequestInfo, allow: bytes | None, message: Message, send: Send
    ) -> None:
        await note_refusal_for(scope)
        self._decorate(info, allow, message)
        await send(message)

    def _decorate(self, info: RequestInfo, allow: bytes | None, message: Message) -> None:
        headers = self.security.added_to(message.get("headers", ()))
        if allow is not None:
            headers += cors.allow_headers(allow)
        headers.append(observe.response_started(info, message["status"]))
        message["headers"] = headers


async def _respond(response: Response, scope: Scope, receive: Receive, answer: Send, send: Send) -> None:
    """What ``response(scope, receive, answer)`` does, for a plain response in two fewer
    coroutines: its head through the edge's ``answer``, its body straight to the server."""
    if response.background is not None or type(response).__call__ is not Response.__call__:
        await response(scope, receive, answer)  # streamed, a file, or work after the answer
        return
    await answer(
        {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})
