"""Sending mail: the Mailer interface the outbox talks to, and its SMTP implementation."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class Mailer(Protocol):
    """Hands one message to a relay; returns the relay's reply in words.

    Raises :class:`service.errors.MailError` (``permanent`` for a 5xx on the recipient or the
    message, transient otherwise).
    """

    async def send(self, message: EmailMessage) -> str: ...

    async def aclose(self) -> None: ...
