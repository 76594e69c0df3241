"""Signing in to the web admin (an admin key, or the configured password) and out again.

Attempts are counted in the database, per client IP and for everyone, so every instance sharing
it slows a guesser the same: past the limit, sign-in answers 429 without checking anything (and
without spending an argon2 hash on it). An attempt is counted as it is admitted, before its
secret is checked (guesses sent at once cannot all slip in), and given back when it succeeds.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.admin import hash_key
from service.settings import Settings
from service.store.audit import sign_out, signin_admitted, signin_succeeded
from service.web.admin_http import admin_page, field, language, render
from service.web.admin_session import (
    PAGES,
    PASSWORD_ACTOR,
    Session,
    clear_cookie,
    cookie_name,
    csrf_ok,
    csrf_token,
    issue,
    session_of,
    set_cookie,
)
from service.web.client import client_ip
from service.web.context import services
from service.web.pages import PAGE_HEADERS

log = logging.getLogger("optin.admin")
WINDOW = 15 * 60.0  # seconds over which failed sign-ins are counted
FAILURES_PER_IP = 10
FAILURES_OVERALL = 100
PRE = "optin_admin_pre"  # the cookie the sign-in form's CSRF token is derived from
MAX_SECRET = 1024


def matching_actor(settings: Settings, secret: str) -> str | None:
    """The key whose hash matches ``secret`` (every key is compared), else None."""
    presented = hash_key(secret)
    found = None
    for key in settings.admin_keys:
        if hmac.compare_digest(presented, key.sha256) and key.scopes - {"metrics"}:
            found = f"key:{key.name}"
    return found


def _password_matches(password_hash: str, secret: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(PasswordHasher().verify(password_hash, secret))
    except (VerificationError, InvalidHashError):
        return False


async def identify(settings: Settings, secret: str) -> str | None:
    actor = matching_actor(settings, secret)
    if actor is None and settings.admin.password_hash:
        # argon2 costs tens of milliseconds of CPU: off the event loop.
        if await asyncio.to_thread(_password_matches, settings.admin.password_hash, secret):
            actor = PASSWORD_ACTOR
    return actor


def _limits(request: Request) -> list[tuple[str, int]]:
    ip = client_ip(request) or "-"
    return [(f"admin-signin:ip:{ip}", FAILURES_PER_IP), ("admin-signin:all", FAILURES_OVERALL)]


def _pre_seed(request: Request, settings: Settings) -> str | None:
    return request.cookies.get(cookie_name(settings, PRE))


def _form_page(request: Request, status: int = 200, error: str = "") -> Response:
    settings = services(request).settings
    seed = _pre_seed(request, settings) or secrets.token_urlsafe(16)
    response = render(
        request,
        "admin/signin.html",
        status=status,
        error=error,
        signin_csrf=csrf_token(settings, "signin:" + seed),
    )
    set_cookie(response, settings, PRE, seed, max_age=3600)
    return response


def _first_page(session: Session) -> Response:
    first = next((p for p in PAGES if session.may(p)), "overview")
    return RedirectResponse(f"/admin/{first}", status_code=303, headers=PAGE_HEADERS)


async def home(request: Request) -> Response:
    svc = services(request)
    session = await session_of(request, svc.settings, svc.store)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303, headers=PAGE_HEADERS)
    return _first_page(session)


async def signin_page(request: Request) -> Response:
    svc = services(request)
    if await session_of(request, svc.settings, svc.store) is not None:
        return await home(request)
    return _form_page(request)


async def signin(request: Request) -> Response:
    svc = services(request)
    settings = svc.settings
    t = svc.renderer.strings(language(request))
    now = time.time()
    limits = _limits(request)
    if not await signin_admitted(svc.store, limits, WINDOW, now):
        log.warning("admin sign-in refused: too many failed attempts (%s)", limits[0][0])
        response = _form_page(request, 429, t["admin_signin_too_many"])
        response.headers["Retry-After"] = str(int(WINDOW))
        return response
    form = await request.form(max_files=0, max_fields=5)
    request.state.form = form
    seed = _pre_seed(request, settings)
    if not csrf_ok(settings, "signin:" + seed if seed else None, form.get("csrf")):
        return _form_page(request, 403, t["admin_csrf"])
    secret = field(request, "secret")[:MAX_SECRET]
    actor = await identify(settings, secret) if secret else None
    if actor is None:  # counted as a failure when it was admitted
        log.warning("admin sign-in failed from %s", client_ip(request))
        return _form_page(request, 401, t["admin_signin_failed"])
    await signin_succeeded(svc.store, [key for key, _ in limits], now)
    value, session = issue(settings, actor, now)
    log.info("admin sign-in: %s", session.who)
    request.state.session = session
    response = _first_page(session)
    set_cookie(response, settings, "optin_admin", value, max_age=int(session.expires_at - now))
    clear_cookie(response, settings, PRE)
    return response


@admin_page("sign-out")
async def signout(request: Request) -> Response:
    svc = services(request)
    settings = svc.settings
    session = request.state.session
    await sign_out(svc.store, session.sid, session.expires_at)
    log.info("admin sign-out: %s", session.who)
    response = RedirectResponse("/admin/sign-in", status_code=303, headers=PAGE_HEADERS)
    clear_cookie(response, settings, "optin_admin")
    return response
