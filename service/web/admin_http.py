"""What every admin page shares: the session and scope check, CSRF on POST, and rendering.

A page is declared with :func:`admin_page` and the name of what it does (service.web.admin_session
SCOPES says which scope that needs). Without a session a GET goes to the sign-in page; a
session without the scope gets a 403 page saying which one is missing; a POST without the
session's CSRF token (or from another origin) changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.settings import Settings
from service.web.admin_session import PAGES, SCOPES, Handler, Session, csrf_ok, csrf_token, session_of
from service.web.context import services
from service.web.pages import PAGE_HEADERS, page_language

MAX_FORM_FIELDS = 20


def when(stamp: float | None) -> str:
    if stamp is None:
        return "—"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def utc(iso: str | None) -> str:
    """An ISO time from an export (``…T…+00:00``) as the pages show times."""
    return iso.replace("T", " ").replace("+00:00", " UTC") if iso else "—"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "—"


def language(request: Request) -> str:
    return page_language(request, request.query_params.get("lang"))


def render(
    request: Request,
    template: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    current: str = "",
    **context: Any,
) -> HTMLResponse:
    svc = services(request)
    session: Session | None = getattr(request.state, "session", None)
    lang = language(request)
    html = svc.renderer.html(
        template,
        lang,
        session=session,
        csrf=csrf_token(svc.settings, session.sid) if session else "",
        nav=[p for p in PAGES if session and session.may(p)],
        current=current,
        when=when,
        duration=duration,
        percent=percent,
        utc=utc,
        lang_query=f"lang={lang}" if "lang" in request.query_params else "",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def refuse(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "admin/refused.html", status=status, message=message)


def same_origin(request: Request, settings: Settings) -> bool:
    """A browser names the page a POST comes from; another site's page is refused. "null" is what
    it sends under our ``Referrer-Policy: no-referrer`` (the CSRF token does the real work)."""
    origin = request.headers.get("origin")
    return origin in (None, "null", settings.server.origin)


def admin_page(what: str) -> Callable[[Handler], Handler]:
    """Run ``handler`` only for a signed-in session allowed to do ``what``."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            svc = services(request)
            t = svc.renderer.strings(language(request))
            session = await session_of(request, svc.settings, svc.store)
            if session is None:
                if request.method in ("GET", "HEAD"):
                    return RedirectResponse("/admin/sign-in", status_code=303, headers=PAGE_HEADERS)
                return refuse(request, 401, t["admin_signed_out"])
            request.state.session = session
            if not session.may(what):
                return refuse(request, 403, t["admin_missing_scope"].format(scope=scope_of(what)))
            if request.method == "POST":
                form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
                if not same_origin(request, svc.settings) or not csrf_ok(
                    svc.settings, session.sid, form.get("csrf")
                ):
                    return refuse(request, 403, t["admin_csrf"])
                request.state.form = form
            return await handler(request)

        return guarded

    return wrap


def scope_of(what: str) -> str:
    return SCOPES.get(what, what)


def posted(request: Request) -> FormData:
    form: FormData = request.state.form
    return form


def field(request: Request, name: str) -> str:
    value = posted(request).get(name)
    return value.strip() if isinstance(value, str) else ""
