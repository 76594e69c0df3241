"""Signed, expiring tokens for the links we email. Pure: no I/O, no clock but itsdangerous'."""

from __future__ import annotations

import time
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.errors import TokenExpired, TokenInvalid

CONFIRM = "optin.confirm.v1"
NONCE = "optin.confirm-page.v1"
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

    def page_nonce(self, token_id: str) -> str:
        """Issued by a link's page; the confirm POST must bring it back (scanners don't)."""
        # itsdangerous stamps whole seconds; the dwell check needs finer time.
        return self.sign(NONCE, {"t": token_id, "at": time.time()})

    def read_page_nonce(self, nonce: str, token_id: str, max_age_seconds: float) -> float:
        """When the page that issued ``nonce`` for this link was shown (UNIX seconds)."""
        serializer = self._serializer(NONCE)
        try:
            payload = serializer.loads(nonce, max_age=int(max_age_seconds))
        except (BadSignature, SignatureExpired) as exc:
            raise TokenInvalid("the confirmation page has expired; press the button again") from exc
        if not isinstance(payload, dict) or payload.get("t") != token_id:
            raise TokenInvalid("this button belongs to another link")
        issued = payload.get("at")
        if not isinstance(issued, int | float):
            raise TokenInvalid("the confirmation page is not valid")
        return float(issued)
