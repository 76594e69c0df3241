"""Signing in to the web admin as a browser would, with the keys every admin test configures."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from service.admin import hash_key
from service.settings import Settings
from tests.support.app_server import make_settings

# name -> (key, scopes). Real keys' shape, made up for the tests.
KEYS = {
    "ops": ("optin_test-ops-key-0000000000000000000000000000", ["admin"]),
    "reader": ("optin_test-reader-key-00000000000000000000000000", ["read"]),
    "dpo": ("optin_test-dpo-key-000000000000000000000000000000", ["export", "erase"]),
    "prom": ("optin_test-prom-key-00000000000000000000000000000", ["metrics"]),
}
PASSWORD = "correct horse battery staple"


def key_settings(*names: str) -> dict[str, Any]:
    """The ``[admin.keys]`` table of a settings file for these test keys (all by default)."""
    return {name: {"sha256": hash_key(KEYS[name][0]), "scopes": KEYS[name][1]} for name in names or KEYS}


def with_admin(
    configure: Callable[[str], Settings], keys: tuple[str, ...] = tuple(KEYS), **admin: Any
) -> Callable[[str], Settings]:
    """``configure`` with the test keys and any other ``[admin]`` setting, read as from a file."""

    def wrapped(url: str) -> Settings:
        base = configure(url)
        server = {"owner_email": base.server.owner_email}
        section = make_settings({"server": server, "admin": {"keys": key_settings(*keys), **admin}}, {})
        return replace(base, admin_keys=section.admin_keys, admin=section.admin)

    return wrapped


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, secret: str) -> httpx.Response:
    page = await http.get("/admin/sign-in")
    assert page.status_code == 200, page.text
    return await http.post("/admin/sign-in", data={"csrf": csrf_of(page.text), "secret": secret})


async def signed_in(http: httpx.AsyncClient, name: str) -> str:
    """Sign in with the key ``name``; returns the CSRF token of the session's pages."""
    answer = await sign_in(http, KEYS[name][0])
    assert answer.status_code == 303, answer.text
    page = await http.get(answer.headers["location"])
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
