"""``GET /metrics``: Prometheus' text format, behind a bearer key, or on an address of its own.

On the service's port it needs ``Authorization: Bearer <key>`` with the ``metrics`` (or
``admin``) scope, and answers 404 when no key has it. ``admin.metrics_listen`` serves it without
a key on a separate address (a private interface a Prometheus server scrapes); each process
that should be scraped that way needs an address of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service import metrics
from service.admin import authorize
from service.errors import InputError
from service.web.context import Services, services

log = logging.getLogger("optin.metrics")


def readable_by_key(svc: Services) -> bool:
    return any(k.scopes & {"metrics", "admin"} for k in svc.settings.admin_keys)


async def scrape(svc: Services, request: Request) -> Response:
    now = time.time()
    depth = await svc.reports.outbox_depth(now)
    gauges = metrics.outbox_gauges(depth.pending, depth.dead, depth.oldest_due_at, now)
    accept = request.headers.get("accept", "")
    body, media_type = metrics.exposition(svc.settings.admin.metrics_multiproc_dir, gauges, accept)
    return Response(body, headers={"Content-Type": media_type, "Cache-Control": "no-store"})


async def with_key(request: Request) -> Response:
    svc = services(request)
    if not readable_by_key(svc):
        return JSONResponse(
            {"error": "metrics are off: give an admin key the metrics scope, or set admin.metrics_listen"},
            status_code=404,
        )
    try:
        authorize(svc.settings.admin_keys, request.headers.get("authorization"), "metrics")
    except InputError as exc:
        return JSONResponse(
            {"error": exc.message},
            status_code=exc.status,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return await scrape(svc, request)


async def without_key(request: Request) -> Response:
    return await scrape(request.app.state.services, request)


def _bind(address: str) -> socket.socket | None:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        log.error(
            "cannot serve /metrics on %s (%s); it stays available on the main port with a key", address, exc
        )
        return None
    return sock


class _SideServer(uvicorn.Server):
    """A second server in the process: signals stay with the main one, which stops this one."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def separate_listener(svc: Services) -> AsyncIterator[None]:
    """Serve /metrics on ``admin.metrics_listen`` while the service runs (if it can bind)."""
    address = svc.settings.admin.metrics_listen
    sock = _bind(address) if address else None
    if sock is None:
        yield
        return
    app = Starlette(routes=[Route("/metrics", without_key)])
    app.state.services = svc
    server = _SideServer(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    log.info("/metrics served without a key on %s", address)
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()
