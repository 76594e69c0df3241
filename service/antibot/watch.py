"""Every 429 answered to a visitor is remembered: its address and network get harder challenges.

Signups, address checks and challenges are limited in different places (service.limits, the
verify counter, the challenge handler); service.web.edge sees all their answers in one place and
calls :func:`note_refusal_for` before a 429 goes out: the client's next request (a fresh
challenge, on any instance) must already see it. Hook submissions are left out: their 429s are
about the visitor a sender names, not the sender.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import Scope

from service.antibot.pressure import note_refusal
from service.web.client import client_ip
from service.web.context import services

log = logging.getLogger(__name__)


def watched(path: str) -> bool:
    """Whether a 429 on ``path`` is counted against the client."""
    return path.startswith("/v1/") and not path.startswith("/v1/hooks/")


async def note_refusal_for(scope: Scope) -> None:
    request = Request(scope)
    ip, now = client_ip(request), time.time()
    if ip is None:
        return
    try:
        await services(request).store.write(lambda tx: note_refusal(tx, ip, now))
    except Exception:  # a lost count only softens the next challenge; the answer still goes out
        log.warning("could not record a refusal for a client", exc_info=True)
