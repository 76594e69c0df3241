"""The web admin's sessions: a signed cookie, CSRF tokens, and the scope every page needs.

The session cookie is signed with the server secret (itsdangerous), expires after
``admin.session_hours`` (its signature's age is checked, not only the browser's Max-Age), and is
``HttpOnly``, ``SameSite=Strict`` and, when the public URL is https, ``Secure`` with the
``__Host-`` prefix. It names who signed in (a key by name, or the password) and a fingerprint of
that credential: a key removed or rotated, or a password changed, ends its sessions at once,
and a key's scopes are always the ones configured now.

Signing out records the session's id in the database until it would have expired: the cookie is
refused everywhere from then on, even where it was copied.

Every POST carries a CSRF token derived from the session (or, before sign-in, from a random
cookie of its own), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from service.errors import TokenError
from service.settings import Settings
from service.store.audit import signed_out
from service.store.base import BaseStore
from service.tokens import Tokens

SESSION = "optin.admin-session.v1"
PASSWORD_ACTOR = "password"  # noqa: S105 - the name of who signed in, not a secret
# What each page and action needs; "admin" holds every scope.
SCOPES = {
    "overview": "read",
    "funnel": "read",
    "outbox": "read",
    "connectors": "read",
    "contacts": "export",
    "retry": "admin",
    "drop": "admin",
    "test": "admin",
    "export": "export",
    "erase": "erase",
    "sign-out": "",  # any session
}
PAGES = ("overview", "funnel", "outbox", "connectors", "contacts")


def admin_enabled(settings: Settings) -> bool:
    """The admin exists only when someone can sign in (a key for more than metrics, or a password)."""
    return bool(settings.admin.password_hash) or any(k.scopes - {"metrics"} for k in settings.admin_keys)


@dataclass(frozen=True)
class Session:
    actor: str  # "key:NAME" or "password"
    scopes: frozenset[str]
    sid: str
    expires_at: float

    def may(self, what: str) -> bool:
        scope = SCOPES.get(what, what)
        return not scope or scope in self.scopes or "admin" in self.scopes

    @property
    def who(self) -> str:
        return self.actor.removeprefix("key:")


def _https(settings: Settings) -> bool:
    return settings.server.public_url.startswith("https://")


def cookie_name(settings: Settings, base: str = "optin_admin") -> str:
    # "__Host-": the browser takes it only over https, from this host, for the whole site.
    return f"__Host-{base}" if _https(settings) else base


def _fingerprint(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()[:16]


def credential_of(settings: Settings, actor: str) -> tuple[str, frozenset[str]] | None:
    """The fingerprint and scopes of ``actor`` as configured now; None when it is gone."""
    if actor == PASSWORD_ACTOR:
        if not settings.admin.password_hash:
            return None
        return _fingerprint(settings.admin.password_hash), frozenset({"admin"})
    for key in settings.admin_keys:
        if f"key:{key.name}" == actor:
            return _fingerprint(key.sha256), key.scopes
    return None


def issue(settings: Settings, actor: str, now: float) -> tuple[str, Session]:
    found = credential_of(settings, actor)
    if found is None:
        raise ValueError(f"{actor} is not configured")
    fingerprint, scopes = found
    expires = now + settings.admin.session_hours * 3600
    sid = secrets.token_urlsafe(16)
    value = Tokens(settings.server.secret_key).sign(
        SESSION, {"a": actor, "f": fingerprint, "s": sid, "e": expires}
    )
    return value, Session(actor, scopes, sid, expires)


def read(settings: Settings, value: str | None, now: float) -> Session | None:
    if not value:
        return None
    try:
        payload = Tokens(settings.server.secret_key).read(SESSION, value, settings.admin.session_hours * 3600)
    except TokenError:
        return None
    actor, fingerprint, sid, expires = (payload.get(k) for k in ("a", "f", "s", "e"))
    if not isinstance(actor, str) or not isinstance(sid, str) or not isinstance(expires, int | float):
        return None
    found = credential_of(settings, actor)
    if found is None or not hmac.compare_digest(found[0], str(fingerprint)) or expires <= now:
        return None
    return Session(actor, found[1], sid, float(expires))


def csrf_token(settings: Settings, seed: str) -> str:
    key = settings.server.secret_key.encode()
    return hmac.new(key, b"optin.admin-csrf.v1\0" + seed.encode(), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, seed: str | None, given: object) -> bool:
    return (
        bool(seed) and isinstance(given, str) and hmac.compare_digest(csrf_token(settings, str(seed)), given)
    )


def set_cookie(
    response: Response, settings: Settings, name: str, value: str, max_age: int | None, path: str = "/"
) -> None:
    response.set_cookie(
        cookie_name(settings, name),
        value,
        max_age=max_age,
        path=path,
        secure=_https(settings),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        cookie_name(settings, name), path="/", secure=_https(settings), httponly=True, samesite="strict"
    )


async def session_of(request: Request, settings: Settings, store: BaseStore) -> Session | None:
    """The request's session, unless its cookie is invalid, expired, or was signed out anywhere."""
    session = read(settings, request.cookies.get(cookie_name(settings)), time.time())
    if session is None or await signed_out(store, session.sid):
        return None
    return session


Handler = Callable[[Request], Awaitable[Response]]
