"""The admin API: a person's data, exported or erased. Every call needs a scoped admin key."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.admin import authorize
from service.errors import InputError
from service.privacy import erase_contact, export_contact
from service.web.context import services


def _refusal(request: Request, scope: str) -> Response | None:
    try:
        authorize(services(request).settings.admin_keys, request.headers.get("authorization"), scope)
    except InputError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    return None


async def export(request: Request) -> Response:
    svc = services(request)
    if refusal := _refusal(request, "export"):
        return refusal
    document = await export_contact(svc.store, svc.settings.server.secret_key, request.path_params["email"])
    if document is None:
        return JSONResponse({"error": "no contact has this address"}, status_code=404)
    return JSONResponse(document, headers={"Cache-Control": "no-store"})


async def erase(request: Request) -> Response:
    svc = services(request)
    if refusal := _refusal(request, "erase"):
        return refusal
    count = await erase_contact(svc.store, svc.settings.server.secret_key, request.path_params["email"])
    return JSONResponse({"status": "erased", "contacts": count})
