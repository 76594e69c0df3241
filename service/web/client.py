"""Who is asking: the client's IP, taking X-Forwarded-For only from configured proxies."""

from __future__ import annotations

from starlette.requests import Request

from service.web.context import services


def client_ip(request: Request) -> str | None:
    peer = request.client.host if request.client else None
    trusted = services(request).settings.server.trusted_proxies
    if peer is None or peer not in trusted:
        return peer
    # The right-most address a trusted proxy did not add is the client (earlier ones can be forged).
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer
