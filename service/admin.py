"""Admin API keys: configured as SHA-256 hashes, compared in constant time, scoped.

A key is ``optin_`` + 32 random bytes (base64url): high entropy, so a plain SHA-256 is a safe
way to store it (no password-style stretching needed), and the configuration file never holds
a usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from service.errors import InputError
from service.settings import AdminKey

PREFIX = "optin_"


def new_key() -> tuple[str, str]:
    """A fresh key and the hash to put in ``[admin.keys.NAME] sha256 = …``."""
    key = PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def authorize(keys: tuple[AdminKey, ...], header: str | None, scope: str) -> AdminKey:
    """The key behind ``Authorization: Bearer …`` if it holds ``scope`` ("admin" holds all)."""
    if not header or not header.lower().startswith("bearer "):
        raise InputError("send an admin key as Authorization: Bearer <key>", status=401)
    presented = hash_key(header[7:].strip())
    found = None
    for key in keys:  # every key is compared, so timing says nothing about which one matched
        if hmac.compare_digest(presented, key.sha256):
            found = key
    if found is None:
        raise InputError("this admin key is not valid", status=401)
    if scope not in found.scopes and "admin" not in found.scopes:
        raise InputError(f"this admin key lacks the {scope!r} scope", status=403)
    return found
