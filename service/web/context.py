"""The services a request handler may use, built once at start-up (see service.app)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from service.codes import SignupCodes
from service.confirmation import Confirmations
from service.connectors.base import Connector
from service.limits import MinuteCounter
from service.mail.catcher import MailCatcher
from service.outbox import OutboxWorker
from service.render import Renderer
from service.settings import Settings
from service.signup import SignupService
from service.store import Store
from service.store.reports import Reports
from service.tokens import Tokens
from service.verification import Verifier


@dataclass
class Services:
    settings: Settings
    store: Store
    renderer: Renderer
    tokens: Tokens
    verifier: Verifier
    signup: SignupService
    confirmations: Confirmations
    worker: OutboxWorker
    connectors: dict[str, Connector]
    catcher: MailCatcher | None
    verify_limit: MinuteCounter
    codes: SignupCodes
    status_limit: MinuteCounter
    reports: Reports


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


class SelfContained:
    """A route handler run as a plain ASGI app, for hot routes whose handler turns every error
    into an answer itself: Starlette's exception wrapper (one more layer around ``send`` on each
    request) has nothing to catch there. At a fixed path the edge calls the handler straight
    (service.web.direct); any other method still gets the router's 405."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)
