"""The pages a visitor sees after clicking an emailed link.

GET and HEAD only *show* (mail scanners fetch and even script links); the page's button POSTs.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from service.confirmation import LinkInfo, LinkRefusal, Visit
from service.settings import LANGUAGES
from service.web.client import client_ip
from service.web.context import services

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def page_language(request: Request, preferred: str | None = None) -> str:
    if preferred in LANGUAGES:
        return str(preferred)
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def render_page(
    request: Request, template: str, language: str, status: int = 200, **context: Any
) -> HTMLResponse:
    svc = services(request)
    html = svc.renderer.html(template, language, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(request: Request, message: str, status: int) -> HTMLResponse:
    return render_page(request, "pages/error.html", page_language(request), status=status, message=message)


def _link_page(request: Request, info: LinkInfo, token: str) -> HTMLResponse:
    language = page_language(request, info.language if info.form else None)
    status = {"invalid": 404, "expired": 410}.get(info.state, 200)
    return render_page(
        request,
        f"pages/link_{info.state}.html",
        language,
        status=status,
        list_title=info.list_title,
        token=token,
        nonce=info.nonce,
        notice=info.notice,
    )


def _visit(request: Request) -> Visit:
    return Visit(request.method, client_ip(request), request.headers.get("user-agent"))


async def confirm_page(request: Request) -> Response:
    token = request.path_params["token"]
    info = await services(request).confirmations.inspect(token, _visit(request))
    return _link_page(request, info, token)


async def confirm_submit(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form()
    nonce = form.get("nonce")
    info = await services(request).confirmations.confirm(
        token, nonce if isinstance(nonce, str) else "", _visit(request)
    )
    return _link_page(request, info, token)


async def resend(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token", ""))
    info = await services(request).confirmations.resend(token)
    language = page_language(request, info.language if info.form else None)
    if info.state == "valid":
        return render_page(request, "pages/resent.html", language, list_title=info.list_title)
    return _link_page(request, info, token)


async def unsubscribe_page(request: Request) -> Response:
    token = request.path_params["token"]
    contact = await services(request).confirmations.unsubscribe_target(token)
    if isinstance(contact, str):
        return _refused(request, contact)
    template = "pages/unsubscribed.html" if contact.status == "unsubscribed" else "pages/unsubscribe.html"
    return render_page(
        request,
        template,
        contact.language,
        token=token,
        list_title=_title(request, contact.form_id, contact.language),
    )


async def unsubscribe_submit(request: Request) -> Response:
    """The page's button, and RFC 8058 one-click (body ``List-Unsubscribe=One-Click``)."""
    token = request.path_params["token"]
    contact = await services(request).confirmations.unsubscribe(
        token, client_ip(request), request.headers.get("user-agent")
    )
    if isinstance(contact, str):
        return _refused(request, contact)
    return render_page(
        request,
        "pages/unsubscribed.html",
        contact.language,
        list_title=_title(request, contact.form_id, contact.language),
    )


async def confirm(request: Request) -> Response:
    """``/confirm/{token}``: one route, so a 405 names every method it takes."""
    return await (confirm_submit if request.method == "POST" else confirm_page)(request)


async def unsubscribe(request: Request) -> Response:
    """``/unsubscribe/{token}``: one route, so a 405 names every method it takes."""
    return await (unsubscribe_submit if request.method == "POST" else unsubscribe_page)(request)


async def thanks(request: Request) -> Response:
    form = services(request).settings.forms.get(request.query_params.get("form", ""))
    language = page_language(request, form.language if form else None)
    return render_page(
        request, "pages/thanks.html", language, list_title=form.title_in(language) if form else ""
    )


def _refused(request: Request, refusal: LinkRefusal) -> HTMLResponse:
    """A link that changes nothing; "no longer valid" names no list (it tells a stranger nothing)."""
    status = 410 if refusal == "no_longer_valid" else 404
    return render_page(request, f"pages/link_{refusal}.html", page_language(request), status=status, token="")


def _title(request: Request, form_id: str, language: str) -> str:
    form = services(request).settings.forms.get(form_id)
    return form.title_in(language) if form else form_id
