"""The web admin's routes, mounted under /admin only when someone can sign in (see admin_enabled)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from service.web import admin_contacts, admin_outbox, admin_reports, admin_signin
from service.web.context import services


async def stylesheet(request: Request) -> Response:
    path = services(request).settings.server.templates_dir / "admin" / "admin.css"
    return FileResponse(path, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


def admin_routes() -> list[Route]:
    return [
        Route("/admin", admin_signin.home),
        Route("/admin/sign-in", admin_signin.signin_page, methods=["GET"]),
        Route("/admin/sign-in", admin_signin.signin, methods=["POST"]),
        Route("/admin/sign-out", admin_signin.signout, methods=["POST"]),
        Route("/admin/assets/admin.css", stylesheet),
        Route("/admin/overview", admin_reports.overview),
        Route("/admin/funnel", admin_reports.funnel),
        Route("/admin/outbox", admin_outbox.outbox),
        Route("/admin/outbox/retry", admin_outbox.retry, methods=["POST"]),
        Route("/admin/outbox/drop", admin_outbox.drop, methods=["POST"]),
        Route("/admin/connectors", admin_outbox.connectors),
        Route("/admin/connectors/test", admin_outbox.test, methods=["POST"]),
        Route("/admin/contacts", admin_contacts.search_page, methods=["GET"]),
        Route("/admin/contacts", admin_contacts.find, methods=["POST"]),
        Route("/admin/contacts/export", admin_contacts.export, methods=["POST"]),
        Route("/admin/contacts/erase", admin_contacts.erase, methods=["POST"]),
    ]
