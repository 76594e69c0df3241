"""A real HTTP server on loopback that receives webhook events and checks their signatures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from service.connectors.signing import verify_standard, verify_stripe
from tests.support.app_server import bound_socket


@dataclass
class Receiver:
    secret: str
    scheme: str = "standard"
    replies: list[int] = field(default_factory=list)
    delay: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    url: str = ""

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        if self.scheme == "stripe":
            ok = verify_stripe(self.secret, body, request.headers.get("optin-signature", ""), time.time())
        else:
            ok = verify_standard(
                self.secret,
                request.headers.get("webhook-id", ""),
                request.headers.get("webhook-timestamp", ""),
                body,
                request.headers.get("webhook-signature", ""),
                time.time(),
            )
        if not ok:
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.replies:
            status = self.replies.pop(0)
            if status >= 300:
                return JSONResponse(
                    {"error": "scripted failure"}, status_code=status, headers={"Retry-After": "1"}
                )
        self.events.append(json.loads(body))
        self.ids.append(request.headers.get("webhook-id", ""))
        return JSONResponse({"status": "success"})


@asynccontextmanager
async def run_receiver(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    sock = bound_socket()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
