"""Signed, expiring tokens for the links we email. Pure: no I/O, no clock but itsdangerous'."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.errors import TokenExpired, TokenInvalid

CONFIRM = "optin.confirm.v1"
UNSUBSCRIBE = "optin.unsubscribe.v1"


class Tokens:
    """Each purpose has its own salt, so a token for one can never be replayed as another."""

    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=purpose)

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def read(self, purpose: str, token: str, max_age_seconds: float) -> dict[str, Any]:
        serializer = self._serializer(purpose)
        try:
            payload = serializer.loads(token, max_age=int(max_age_seconds))
        except SignatureExpired as exc:
            # The signature is ours, so the payload can be trusted to offer a fresh link.
            _, stale = serializer.loads_unsafe(token)
            raise TokenExpired("this link has expired", stale if isinstance(stale, dict) else {}) from exc
        except BadSignature as exc:
            raise TokenInvalid("this link is not valid") from exc
        if not isinstance(payload, dict):
            raise TokenInvalid("this link is not valid")
        return payload

    def confirmation(self, token_id: str) -> str:
        return self.sign(CONFIRM, {"t": token_id})

    def read_confirmation(self, token: str, max_age_seconds: float) -> str:
        token_id = self.read(CONFIRM, token, max_age_seconds).get("t")
        if not isinstance(token_id, str):
            raise TokenInvalid("this link is not valid")
        return token_id

    def unsubscribe(self, contact_id: int) -> str:
        return self.sign(UNSUBSCRIBE, {"c": contact_id})

    def read_unsubscribe(self, token: str, max_age_seconds: float) -> int:
        contact_id = self.read(UNSUBSCRIBE, token, max_age_seconds).get("c")
        if not isinstance(contact_id, int):
            raise TokenInvalid("this link is not valid")
        return contact_id
