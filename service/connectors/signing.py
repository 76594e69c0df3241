"""Webhook signatures: Standard Webhooks and Stripe-style. Pure functions.

Standard Webhooks: ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``
with a ``whsec_<base64>`` secret. Stripe style: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>``.
Receivers reject timestamps more than ``tolerance`` seconds off and compare in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from service.numbers import whole_number

DEFAULT_TOLERANCE = 300


def secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error as exc:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from exc
    return secret.encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_standard(
    secret: str,
    msg_id: str,
    timestamp: str,
    body: bytes,
    header: str,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    at = whole_number(timestamp)
    if at is None or abs(now - at) > tolerance:
        return False
    expected = standard_signature(secret, msg_id, at, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


def verify_stripe(
    secret: str, body: bytes, header: str, now: float, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp = parts.get("t", "")
    at = whole_number(timestamp)
    if at is None or abs(now - at) > tolerance:
        return False
    expected = stripe_signature(secret, at, body).split(",v1=")[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
