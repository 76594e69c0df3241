"""The development mail catcher: an SMTP server on loopback that keeps what it receives.

Started only in development when no relay is configured, so a newcomer can click through the
whole double opt-in flow at /dev/mail without any mail set-up.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("optin.catcher")


@dataclass(frozen=True)
class CaughtMail:
    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage = field(repr=False)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def body(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return str(part.get_content()) if part is not None else ""


class MailCatcher:
    def __init__(self, keep: int = 200) -> None:
        self.mails: deque[CaughtMail] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content.encode() if isinstance(content, str) else bytes(content)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = CaughtMail(
            id=next(self._ids),
            received_at=datetime.now(UTC),
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=parsed,
        )
        self.mails.appendleft(mail)
        log.info("caught mail #%d to %s: %s", mail.id, ", ".join(mail.rcpt_tos), mail.subject)
        return "250 Message caught by the optin development catcher"

    def get(self, mail_id: int) -> CaughtMail | None:
        return next((m for m in self.mails if m.id == mail_id), None)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        # aiosmtpd tells every SMTP command at INFO (~8 lines an email): our one line is enough.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        handler: Any = self
        self._server = await loop.create_server(lambda: SMTP(handler, hostname="optin-dev"), host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
