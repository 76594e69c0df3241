"""Development-only pages: the demo form and the caught-mail viewer (never in production)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from service.web.context import services
from service.web.pages import PAGE_HEADERS, render_page

_LINK = re.compile(r"https?://[^\s<>\"']+")
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)

# The detail page frames the HTML part, which comes from our own origin.
VIEWER_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "form-action", "frame-src 'self'; form-action"
    ),
}
# The HTML part as a mail client shows it: its inline styles, no script, no remote content, in a
# sandbox (a unique origin) even when opened on its own; its links open outside the frame.
EMAIL_HEADERS = {
    "Content-Security-Policy": "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none';"
    " style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


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
    html = services(request).renderer.html(
        "pages/dev_mail_detail.html",
        "en",
        mail=mail,
        text=mail.body("plain"),
        has_html=bool(mail.body("html")),
        links=_LINK.findall(mail.body("plain")),
        headers=list(mail.message.items()),
    )
    return HTMLResponse(html, headers=VIEWER_HEADERS)


async def mail_html(request: Request) -> Response:
    """The HTML part alone, for the detail page's sandboxed frame."""
    catcher = services(request).catcher
    mail = catcher.get(int(request.path_params["mail_id"])) if catcher else None
    body = mail.body("html") if mail else ""
    if not body:
        return Response("Not found", status_code=404)
    base = '<base target="_blank">'
    body = _HEAD.sub(lambda m: m.group(0) + base, body, count=1) if _HEAD.search(body) else base + body
    return HTMLResponse(body, headers=EMAIL_HEADERS)
