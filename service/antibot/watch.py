"""Every 429 answered to a visitor is remembered: its address and network get harder challenges.

Signups, address checks and challenges are limited in different places (service.limits, the
verify counter, the challenge handler); this middleware sees all their answers in one place.
Hook submissions are left out: their 429s are about the visitor a sender names, not the sender.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.antibot.pressure import note_refusal
from service.web.client import client_ip
from service.web.context import services

log = logging.getLogger(__name__)


class RefusalWatch:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path.startswith("/v1/hooks/"):
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            # Counted before the 429 goes out: the client's next request (a fresh challenge, on
            # any instance) must already see it.
            if message["type"] == "http.response.start" and message["status"] == 429:
                await self._note(scope)
            await send(message)

        await self.app(scope, receive, watch)

    @staticmethod
    async def _note(scope: Scope) -> None:
        request = Request(scope)
        ip, now = client_ip(request), time.time()
        if ip is None:
            return
        try:
            await services(request).store.write(lambda tx: note_refusal(tx, ip, now))
        except Exception:  # a lost count only softens the next challenge; the answer still goes out
            log.warning("could not record a refusal for a client", exc_info=True)
