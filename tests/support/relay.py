"""A real SMTP relay on loopback (aiosmtpd) that records what it receives and can misbehave."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USER, PASSWORD = "relay-user", "relay-pass-123"


@dataclass
class Relay:
    """Replies to DATA come from ``data_replies`` in order (then 250); ``delay`` slows DATA."""

    data_replies: list[str] = field(default_factory=list)
    rcpt_reply: str | None = None
    delay: float = 0.0
    messages: list[EmailMessage] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)  # each message's bytes exactly as received
    # What the SMTP envelope said, beside each message: (MAIL FROM, RCPT TO addresses).
    envelopes: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    attempts: int = 0
    connections: int = 0
    port: int = 0
    # Once this many messages are accepted, later DATA waits (unaccepted) until ``released`` is
    # set: a test can kill the sender with mail certainly in flight, however slow the machine.
    hold_after: int | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.hold_after is not None and len(self.messages) >= self.hold_after:
            await self.released.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.data_replies:
            reply = self.data_replies.pop(0)
            if not reply.startswith("250"):
                return reply
        raw = bytes(envelope.original_content or b"")
        # An SMTPUTF8 message carries UTF-8 headers, which only the text parser reads as such.
        if envelope.smtp_utf8:
            parsed = message_from_string(raw.decode("utf-8"), policy=policy.default)
        else:
            parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.raws.append(raw)
        self.envelopes.append((str(envelope.mail_from), tuple(envelope.rcpt_tos)))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def delivered_to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope named ``address``: what that inbox really receives."""
        return [m for m, (_, rcpts) in zip(self.messages, self.envelopes, strict=True) if address in rcpts]


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@asynccontextmanager
async def run_relay(
    relay: Relay,
    *,
    mode: Literal["starttls", "tls", "none"],
    server_context: ssl.SSLContext | None = None,
    auth: bool = True,
    port: int = 0,
    host: str = "127.0.0.1",
    smtputf8: bool = False,
) -> AsyncIterator[Relay]:
    """``smtputf8`` makes the relay offer SMTPUTF8 (RFC 6531), as some relays do and many don't."""
    loop = asyncio.get_running_loop()

    sessions: list[SMTP] = []

    def factory() -> SMTP:
        relay.connections += 1
        session = SMTP(
            relay,
            hostname="relay.test",
            tls_context=server_context if mode == "starttls" else None,
            require_starttls=mode == "starttls",
            auth_required=auth,
            auth_require_tls=mode == "starttls",
            authenticator=_authenticator if auth else None,
            enable_SMTPUTF8=smtputf8,
        )
        sessions.append(session)
        return session

    server = await loop.create_server(factory, host, port, ssl=server_context if mode == "tls" else None)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()
        # A stopped relay also drops the sessions it had open (asyncio leaves them by default).
        for session in sessions:
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()
