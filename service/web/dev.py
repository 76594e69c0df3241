"""Development-only pages: the demo form and the caught-mail viewer (never in production)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from service.web.context import services
from service.web.pages import PAGE_HEADERS, render_page

_LINK = re.compile(r"https?://[^\s<>\"']+")


async def demo(request: Request) -> Response:
    svc = services(request)
    form = next(iter(svc.settings.forms.values()))
    headers = {**PAGE_HEADERS, "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"}
    html = svc.renderer.html(
        "pages/demo.html",
        form.language,
        form=form,
        development=svc.settings.server.development,
        mail_viewer=svc.catcher is not None,
    )
    return HTMLResponse(html, headers=headers)


async def mail_list(request: Request) -> Response:
    catcher = services(request).catcher
    if catcher is None:
        return Response("Not found", status_code=404)
    mails = [{"mail": m, "links": _LINK.findall(m.body("plain"))} for m in catcher.mails]
    return render_page(request, "pages/dev_mail.html", "en", mails=mails)


async def mail_detail(request: Request) -> Response:
    catcher = services(request).catcher
    mail = catcher.get(int(request.path_params["mail_id"])) if catcher else None
    if mail is None:
        return Response("Not found", status_code=404)
    return render_page(
        request,
        "pages/dev_mail_detail.html",
        "en",
        mail=mail,
        text=mail.body("plain"),
        links=_LINK.findall(mail.body("plain")),
        headers=list(mail.message.items()),
    )
