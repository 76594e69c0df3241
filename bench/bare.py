"""The peer: a bare Starlette JSON endpoint that parses the body and answers 202, nothing more."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def accept(request: Request) -> JSONResponse:
    data = await request.json()
    return JSONResponse({"status": "accepted", "email": bool(data.get("email"))}, status_code=202)


app = Starlette(routes=[Route("/v1/forms/{form_id}/subscribe", accept, methods=["POST"])])
