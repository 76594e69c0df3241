"""The public JSON API the widget (and a plain HTML form) talk to."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from service.codes import CODE_LENGTH, public_answer
from service.confirmation import Visit
from service.connectors.status import connectors_health
from service.errors import InputError
from service.limits import MinuteCounter
from service.signup import SignupRequest
from service.verification.dnshealth import ResolverHealth, ResolverWatch
from service.verification.http import verify_endpoint
from service.web.body import read_fields, text_field, truthy, wants_html
from service.web.client import client_ip
from service.web.context import services
from service.web.pages import error_page

ACCEPTED = {
    "status": "accepted",
    "message": "Thanks! Please check your inbox and click the link to confirm your subscription.",
}


def _error(exc: InputError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    body: dict[str, Any] = {"error": exc.message, "field": exc.field}
    if exc.errors:
        body["errors"] = exc.errors
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def subscribe(request: Request) -> Response:
    svc = services(request)
    form_id = request.path_params["form_id"]
    html = wants_html(request)
    try:
        data = await read_fields(request, svc.settings.server.max_body_bytes)
        email = text_field(data, "email", max_length=320) or ""
        signup = SignupRequest(
            form_id=form_id,
            email=email,
            first_name=text_field(data, "first_name", max_length=200),
            last_name=text_field(data, "last_name", max_length=200),
            language=text_field(data, "language", max_length=20),
            consent=truthy(data.get("consent")),
            page_url=text_field(data, "page_url", max_length=2000) or request.headers.get("referer"),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            fields=data,
            offer_code=not html,
        )
        accepted = await svc.signup.subscribe(signup)
    except InputError as exc:
        if html:
            return error_page(request, exc.message, exc.status)
        return _error(exc)
    if html:
        form = svc.settings.forms[form_id]
        target = (
            form.thank_you_url or f"{svc.settings.server.public_url}/thanks?{urlencode({'form': form_id})}"
        )
        return RedirectResponse(target, status_code=303)
    return JSONResponse({**ACCEPTED, "signup": accepted.handle}, status_code=202)


async def _signup_body(request: Request) -> tuple[str, dict[str, Any]]:
    svc = services(request)
    form_id = request.path_params["form_id"]
    svc.signup.form(form_id)  # 404 for a form that does not exist
    data = await read_fields(request, svc.settings.server.max_body_bytes)
    if not isinstance(data.get("signup"), str) or not data["signup"]:
        raise InputError("signup must be the handle the subscribe answer gave", field="signup")
    return form_id, data


async def code(request: Request) -> Response:
    """POST /v1/forms/{form_id}/code: the code from the email, with the signup's handle."""
    svc = services(request)
    try:
        form_id, data = await _signup_body(request)
        visit = Visit("code", client_ip(request), request.headers.get("user-agent"))
        answer = await svc.codes.submit(form_id, data["signup"], data.get("code"), visit)
    except InputError as exc:
        return _error(exc)
    status, body = public_answer(answer)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _over(counter: MinuteCounter, request: Request) -> Response | None:
    """A 429 when this client made too many of these cheap calls this minute (per instance)."""
    if counter.limit <= 0:  # no limit: nobody to tell apart
        return None
    wait = counter.hit(client_ip(request) or "-", time.time())
    if wait is None:
        return None
    return JSONResponse(
        {"error": f"too many checks from your address; try again in {wait} s"},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


async def signup_status(request: Request) -> Response:
    """POST /v1/forms/{form_id}/status: whether this signup was confirmed (in another tab, say)."""
    svc = services(request)
    if refused := _over(svc.status_limit, request):
        return refused
    try:
        form_id, data = await _signup_body(request)
    except InputError as exc:
        return _error(exc)
    state = await svc.codes.status(form_id, data["signup"])
    return JSONResponse({"status": state}, headers={"Cache-Control": "no-store"})


async def resend(request: Request) -> Response:
    """POST /v1/forms/{form_id}/resend: a new email with a new code, within the address's budget."""
    svc = services(request)
    try:
        form_id, data = await _signup_body(request)
        handle = await svc.codes.resend(form_id, data["signup"], client_ip(request))
    except InputError as exc:
        return _error(exc)
    message = "If this address is waiting for a confirmation, a new email is on its way."
    return JSONResponse({"status": "accepted", "message": message, "signup": handle}, status_code=202)


async def form_config(request: Request) -> Response:
    """What the widget needs to draw a form; nothing secret."""
    svc = services(request)
    form = svc.settings.forms.get(request.path_params["form_id"])
    if form is None:
        return JSONResponse({"error": "there is no such form"}, status_code=404)
    # Texts in the form's language, and in every other language the owner wrote them: the
    # widget shows the visitor's, else these (the server records the same one in the ledger).
    base = f"{svc.settings.server.public_url}/v1/forms/{form.id}"
    body: dict[str, Any] = {
        "id": form.id,
        "title": form.title,
        "titles": dict(form.titles),
        "language": form.language,
        "consent_text": form.consent_text,
        "consent_texts": dict(form.consent_texts),
        "consent_required": bool(form.consent_text),
        "subscribe_url": f"{base}/subscribe",
        "code_url": f"{base}/code",
        "status_url": f"{base}/status",
        "resend_url": f"{base}/resend",
        "code_length": CODE_LENGTH,
        "fields": [spec.public() for spec in form.fields],
        "lists": [spec.public() for spec in form.lists],
        "verify_url": f"{svc.settings.server.public_url}/v1/verify",
        "strings": svc.renderer.strings(form.language),
        "widget_strings": form.widget_strings,
    }
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


async def health(request: Request) -> Response:
    """The human summary: outbox, connectors, and whether DNS works (it decides every signup)."""
    svc = services(request)
    counts = await svc.store.outbox_waiting()
    resolver: ResolverWatch | None = getattr(request.app.state, "resolver", None)
    dns = resolver.health if resolver is not None else ResolverHealth("unchecked")
    return JSONResponse(
        {
            "status": "ok" if dns.ok else "degraded",
            "environment": svc.settings.server.environment,
            "dns": dns.to_json(),
            "outbox": {"pending": counts.get("pending", 0), "dead": counts.get("dead", 0)},
            "connectors": await connectors_health(svc.store, tuple(svc.settings.connectors)),
        }
    )


async def verify(request: Request) -> Response:
    """POST /v1/verify behind a per-IP limit: each call may cost DNS lookups."""
    if refused := _over(services(request).verify_limit, request):
        return refused
    return await verify_endpoint(request)
