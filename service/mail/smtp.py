"""Delivering through the site's SMTP relay with aiosmtplib.

Ports and their TLS modes: 587 and 2525 speak STARTTLS, which we *require* (a relay that does
not offer it is refused rather than sent plaintext); 465 is implicit TLS. ``port = "auto"``
tries 587, then 2525, then 465, and remembers the first that worked. Plaintext is only used
for a relay on loopback when explicitly configured (the development catcher).

The envelope is always given explicitly (``sender=``, ``recipients=``): aiosmtplib would otherwise
read it out of the ``From:`` and ``To:`` headers, and header parsing must never decide who gets
an email (see :mod:`service.mail.envelope`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal

import aiosmtplib
from aiosmtplib.email import flatten_message

from service.errors import MailError
from service.mail import Message
from service.mail.dkim import DkimSigner
from service.mail.envelope import UNCARRIABLE, addressed_to, envelope_for
from service.mail.mime import Email
from service.settings import SmtpSettings

Mode = Literal["starttls", "tls", "none"]
AUTO_ORDER: tuple[tuple[int, Mode], ...] = ((587, "starttls"), (2525, "starttls"), (465, "tls"))
MEMORY_KEY = "smtp.auto_port"
IDLE_SECONDS = 15.0  # relays drop idle sessions after a minute or more; stay well under
FRESH_SECONDS = 2.0  # reused without an RSET check


@dataclass(frozen=True)
class Route:
    port: int
    mode: Mode

    def __str__(self) -> str:
        return f"port {self.port} ({'implicit TLS' if self.mode == 'tls' else self.mode.upper()})"


def routes_for(settings: SmtpSettings, auto_order: Sequence[tuple[int, Mode]] = AUTO_ORDER) -> list[Route]:
    if settings.port == "auto":
        return [Route(port, mode) for port, mode in auto_order]
    if settings.security != "auto":
        return [Route(settings.port, settings.security)]
    return [Route(settings.port, "tls" if settings.port == 465 else "starttls")]


def wire_bytes(message: Message, signer: DkimSigner | None, *, utf8: bool, eight_bit: bool) -> bytes:
    """The message as it goes on the wire, DKIM-signed when a key is configured.

    Signed mail is sent 7-bit clean (quoted-printable or base64 bodies): a hop that would
    re-encode an 8-bit body for a server without 8BITMIME would break the body hash. What we
    compose (:class:`Email`) is always 7-bit clean.
    """
    if isinstance(message, Email):
        raw = message.as_bytes(utf8=utf8)
        return raw if signer is None else signer.sign(raw)
    if signer is None:
        return flatten_message(message, utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
    return signer.sign(flatten_message(message, utf8=utf8, cte_type="7bit"))


class _CannotConnect(Exception):
    """This route does not work at all; in auto mode the next one is tried."""

    def __init__(self, route: Route, reason: str) -> None:
        self.route = route
        self.reason = reason
        super().__init__(f"{route}: {reason}")


class SmtpMailer:
    """Sends over at most ``smtp.max_connections`` reused connections; one that went stale is
    replaced, never trusted."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        host: str | None = None,
        port: int | None = None,
        remember: Callable[[str], Awaitable[None]] | None = None,
        recall: Callable[[], Awaitable[str | None]] | None = None,
        auto_order: Sequence[tuple[int, Mode]] = AUTO_ORDER,
    ) -> None:
        self.settings = settings
        self.host = host or settings.host
        self.sender = parseaddr(settings.sender)[1] or settings.sender
        self._routes = [Route(port, "none")] if port is not None else routes_for(settings, auto_order)
        self._remember = remember
        self._recall = recall
        self._known: Route | None = None
        self._tls = ssl.create_default_context(cafile=settings.tls_ca_file or None)
        self._idle: list[tuple[Route, aiosmtplib.SMTP, float]] = []
        self._slots = asyncio.Semaphore(settings.max_connections)
        dkim = settings.dkim
        self.signer = DkimSigner(dkim.domain, dkim.selector, dkim.private_key) if dkim else None

    async def _ordered_routes(self) -> list[Route]:
        if len(self._routes) == 1:
            return self._routes
        if self._known is None and self._recall is not None:
            remembered = await self._recall()
            self._known = next((r for r in self._routes if str(r.port) == remembered), None)
        if self._known is None:
            return self._routes
        return [self._known, *(r for r in self._routes if r != self._known)]

    def _client(self, route: Route, timeout: float) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=route.port,
            use_tls=route.mode == "tls",
            start_tls=route.mode == "starttls" if route.mode != "tls" else False,
            tls_context=self._tls if route.mode != "none" else None,
            username=s.username or None,
            password=s.password or None,
            local_hostname=s.helo_name or None,
            timeout=timeout,
        )

    async def _connect(self, route: Route, timeout: float) -> aiosmtplib.SMTP:
        client = self._client(route, timeout)
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise MailError(
                f"the relay {self.host} refused our username or password on {route}: {exc.code} {exc.message}",
                code=exc.code,
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise MailError(
                f"the relay {self.host} on {route} answered {exc.code} {exc.message}", code=exc.code
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            client.close()
            raise _CannotConnect(route, _describe(exc)) from exc
        return client

    async def probe(self, route: Route) -> str:
        """Connect, secure and authenticate on one route, then quit; raises on failure."""
        try:
            client = await self._connect(route, min(self.settings.timeout, 10.0))
        except _CannotConnect as exc:
            raise MailError(exc.reason) from exc
        try:
            banner = f"{client.server_auth_methods or 'no AUTH offered'}"
            await client.quit()
        finally:
            client.close()
        return banner

    async def _reuse(self) -> tuple[Route, aiosmtplib.SMTP] | None:
        """An idle connection that still answers (RSET), so a backlog skips TLS and AUTH per email.

        One used a moment ago is taken as it is: no relay drops a session within seconds, and an
        RSET per email in a burst costs a round trip each."""
        while self._idle:
            route, client, since = self._idle.pop()
            idle = time.monotonic() - since
            if idle < FRESH_SECONDS and client.is_connected:
                return route, client
            if idle < IDLE_SECONDS and client.is_connected:
                try:
                    async with asyncio.timeout(min(self.settings.timeout, 10.0)):
                        await client.rset()
                    return route, client
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    pass
            client.close()
        return None

    def _keep(self, route: Route, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self.settings.max_connections:
            self._idle.append((route, client, time.monotonic()))
        else:
            client.close()

    async def _deliver(
        self,
        route: Route,
        client: aiosmtplib.SMTP,
        message: Message,
        recipient: str,
        sender: str,
    ) -> str:
        try:
            # aiosmtplib's timeout bounds each socket read; this bounds the whole send.
            async with asyncio.timeout(self.settings.timeout * 2):
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                smtputf8 = client.supports_extension("smtputf8")
                eight_bit = self.signer is None and client.supports_extension("8bitmime")
                try:
                    envelope = envelope_for(sender, recipient, smtputf8)
                    # What aiosmtplib's send_message would do, but on bytes we sign first: a
                    # signature must cover exactly what is sent.
                    utf8 = not (envelope.sender + envelope.recipient).isascii()
                    raw = wire_bytes(
                        addressed_to(message, envelope.recipient), self.signer, utf8=utf8, eight_bit=eight_bit
                    )
                except MailError:
                    self._keep(route, client)  # nothing was wrong with the connection
                    raise
                options = ["SMTPUTF8"] if utf8 else []
                if eight_bit and not isinstance(message, Email):  # ours is 7-bit clean
                    options.append("BODY=8BITMIME")
                errors, reply = await client.sendmail(
                    envelope.sender, [envelope.recipient], raw, mail_options=options
                )
        except MailError:  # a ConnectionError, so an OSError: not a failed connection, though
            raise
        except ValueError as exc:  # aiosmtplib will not put such an address on a command line
            client.close()  # it may have stopped between MAIL FROM and RCPT TO
            raise MailError(UNCARRIABLE, permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            client.close()
            raise _classify(exc, self.host) from exc
        if errors:
            client.close()
            codes = ", ".join(f"{r}: {c} {m}" for r, (c, m) in errors.items())
            raise MailError(f"the relay refused some recipients: {codes}", permanent=True)
        self._keep(route, client)
        return f"{self.host} {route}: {reply}"

    async def send(self, message: Message, recipient: str, *, sender: str | None = None) -> str:
        """Send ``message`` to ``recipient`` (the stored address; its ``To:`` header names it too).

        ``sender`` is the envelope sender (Return-Path), ``smtp.sender`` unless given: mail from
        another address (the owner's alerts) bounces to, and aligns with, that address.
        """
        envelope_sender = (parseaddr(sender)[1] or sender) if sender else self.sender
        async with self._slots:  # one email per connection, smtp.max_connections at once
            return await self._send(message, recipient, envelope_sender)

    async def _send(self, message: Message, recipient: str, envelope_sender: str) -> str:
        reused = await self._reuse()
        if reused is not None:
            return await self._deliver(*reused, message, recipient, envelope_sender)
        failures: list[str] = []
        routes = await self._ordered_routes()
        # Probing a port that silently drops packets must not eat the whole budget.
        connect_timeout = min(self.settings.timeout, 10.0) if len(routes) > 1 else self.settings.timeout
        for route in routes:
            try:
                client = await self._connect(route, connect_timeout)
            except _CannotConnect as exc:
                failures.append(str(exc))
                continue
            reply = await self._deliver(route, client, message, recipient, envelope_sender)
            if route != self._known:
                self._known = route
                if self._remember is not None and len(routes) > 1:
                    await self._remember(str(route.port))
            return reply
        raise MailError(f"could not reach the relay {self.host}: " + "; ".join(failures))

    async def aclose(self) -> None:
        while self._idle:
            _, client, _ = self._idle.pop()
            client.close()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiosmtplib.SMTPException) and "STARTTLS" in text:
        return "the relay does not offer STARTTLS, and optin never sends in plaintext"
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return f"the relay's TLS certificate is not trusted ({text}); set smtp.tls_ca_file for a private CA"
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError | TimeoutError):
        return "no answer in time (a firewall may be dropping this port)"
    if isinstance(exc, aiosmtplib.SMTPConnectError | ConnectionRefusedError):
        return "connection refused (nothing listens there, or a firewall rejects it)"
    return text


def _classify(exc: BaseException, host: str) -> MailError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return MailError(
            f"the relay refused the recipient: {detail}",
            code=codes[0],
            permanent=min(codes) >= 500,
            in_transaction=True,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return MailError(
            f"the relay {host} answered {exc.code} {exc.message}",
            code=exc.code,
            permanent=exc.code >= 500,
            in_transaction=True,
        )
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        # The relay may have accepted the message before timing out; the retry reuses the
        # same Message-ID so receivers can tell it is the same message.
        return MailError(f"the relay {host} timed out during the send")
    return MailError(f"the connection to {host} failed during the send: {_describe(exc)}")
