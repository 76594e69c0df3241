"""Sending mail: the Mailer interface the outbox talks to, and its SMTP implementation."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from service.mail.mime import Email

Message = Email | EmailMessage  # what we compose (subscription mail), or a hand-built message


class Mailer(Protocol):
    """Hands one message to a relay for ``recipient``; returns the relay's reply in words.

    ``recipient`` is the envelope recipient, given by the caller and never read from headers;
    ``sender`` the envelope sender when it is not the configured ``smtp.sender``.
    Raises :class:`service.errors.MailError` (``permanent`` for a 5xx on the recipient or the
    message, or an address this relay cannot take; transient otherwise).
    """

    async def send(self, message: Message, recipient: str, *, sender: str | None = None) -> str: ...

    async def aclose(self) -> None: ...
