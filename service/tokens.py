"""Signed, expiring tokens for the links we email. Pure: no I/O, no clock but itsdangerous'.

An unsubscribe link names a contact by id *and* the form and address it was sent for (a keyed
hash, so the link does not reveal the address): an id that comes to name someone else (a
contact erased, then its id reused) makes the link no longer valid rather than unsubscribe a
stranger. Links emailed before this binding carry only the id; they still work for a contact
that already existed when the link was signed, and never for one created after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.errors import TokenExpired, TokenInvalid

CONFIRM = "optin.confirm.v1"
NONCE = "optin.confirm-page.v1"
UNSUBSCRIBE = "optin.unsubscribe.v1"
_ADDRESS_BINDING = b"optin.unsubscribe-address.v1\0"


@dataclass(frozen=True)
class UnsubscribeClaim:
    """What an unsubscribe link says: which contact, for which address, signed when."""

    contact_id: int
    binding: str | None  # None: a link from before links named their address
    issued_at: float  # UNIX seconds, whole (itsdangerous' stamp)


class Tokens:
    """Each purpose has its own salt, so a token for one can never be replayed as another."""

    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key
        self._serializers: dict[str, URLSafeTimedSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in self._serializers:  # one per purpose: each email signs a link
            self._serializers[purpose] = URLSafeTimedSerializer(self._secret, salt=purpose)
        return self._serializers[purpose]

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def read(self, purpose: str, token: str, max_age_seconds: float) -> dict[str, Any]:
        return self._read_stamped(purpose, token, max_age_seconds)[0]

    def _read_stamped(self, purpose: str, token: str, max_age_seconds: float) -> tuple[dict[str, Any], float]:
        serializer = self._serializer(purpose)
        try:
            payload, signed_at = serializer.loads(token, max_age=int(max_age_seconds), return_timestamp=True)
        except SignatureExpired as exc:
            # The signature is ours, so the payload can be trusted to offer a fresh link.
            _, stale = serializer.loads_unsafe(token)
            raise TokenExpired("this link has expired", stale if isinstance(stale, dict) else {}) from exc
        except BadSignature as exc:
            raise TokenInvalid("this link is not valid") from exc
        if not isinstance(payload, dict):
            raise TokenInvalid("this link is not valid")
        return payload, signed_at.timestamp()

    def confirmation(self, token_id: str) -> str:
        return self.sign(CONFIRM, {"t": token_id})

    def read_confirmation(self, token: str, max_age_seconds: float) -> str:
        token_id = self.read(CONFIRM, token, max_age_seconds).get("t")
        if not isinstance(token_id, str):
            raise TokenInvalid("this link is not valid")
        return token_id

    def address_binding(self, form_id: str, email: str) -> str:
        """A keyed hash of the form and address a link is for: 96 bits, the address unreadable."""
        message = _ADDRESS_BINDING + f"{form_id}\0{email}".encode()
        digest = hmac.new(self._secret.encode(), message, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(digest).decode("ascii")

    def unsubscribe(self, contact_id: int, form_id: str, email: str) -> str:
        return self.sign(UNSUBSCRIBE, {"c": contact_id, "a": self.address_binding(form_id, email)})

    def read_unsubscribe(self, token: str, max_age_seconds: float) -> UnsubscribeClaim:
        payload, signed_at = self._read_stamped(UNSUBSCRIBE, token, max_age_seconds)
        contact_id, binding = payload.get("c"), payload.get("a")
        if not isinstance(contact_id, int) or not isinstance(binding, str | None):
            raise TokenInvalid("this link is not valid")
        return UnsubscribeClaim(contact_id, binding, signed_at)

    def names(self, claim: UnsubscribeClaim, form_id: str, email: str, created_at: float) -> bool:
        """Whether the link still names this contact (the one now holding ``claim.contact_id``)."""
        if claim.binding is None:
            # An id alone: only a contact that existed when the link was signed can be meant.
            return created_at < claim.issued_at
        return hmac.compare_digest(claim.binding, self.address_binding(form_id, email))

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
