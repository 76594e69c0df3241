"""``optin smtp-test``: the relay as configured first (its port and security), then what else works."""

from __future__ import annotations

import argparse
import asyncio
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from service.cli.common import checked_settings
from service.errors import MailError
from service.settings import Settings
from service.settings_checks import address_problem


def add_parser(sub: Any) -> None:
    command = sub.add_parser(
        "smtp-test",
        help="try the relay as configured, then which of ports 587, 465 and 2525 work",
        description="Connect to the relay with its configured port and security exactly as optin's"
        " mailer would (TLS, then AUTH), then try the other standard ports. Exit code 0 when the"
        " configured relay works, 1 when it does not.",
    )
    command.add_argument("--host", help="relay host to try instead of smtp.host")
    command.add_argument(
        "--send-to",
        metavar="ADDRESS",
        help="then send one real test message to ADDRESS (DKIM-signed when a key is configured)"
        " and report the relay's answer; exit code 0 only if the relay accepted it",
    )
    command.set_defaults(func=cmd_smtp_test)


async def _try(mailer: Any, route: Any, username: str) -> bool:
    try:
        methods = await mailer.probe(route)
    except MailError as exc:
        print(f"  {route}: does not work — {exc.detail}")
        return False
    secured = "no TLS (a loopback relay)" if route.mode == "none" else "TLS established"
    auth = f"logged in as {username}" if username else f"AUTH methods offered: {methods}"
    print(f"  {route}: works — {secured}, {auth}")
    return True


def test_message(settings: Settings, to: str) -> EmailMessage:
    from service.mail.compose import new_message_id

    smtp = settings.smtp
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = "optin: test message"
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = new_message_id(smtp.sender)
    message["Auto-Submitted"] = "auto-generated"
    signed = (
        f"It is DKIM-signed for {smtp.dkim.domain} with the selector {smtp.dkim.selector}."
        if smtp.dkim
        else "It is not DKIM-signed: [smtp.dkim] is not configured."
    )
    message.set_content(
        f"This is a test message from optin ({settings.server.public_url}), sent by"
        f" `optin smtp-test --send-to` through {smtp.host or 'the development mail catcher'}.\n\n"
        f'{signed}\nSave it as a file ("Show original", "Download message") and run'
        " `optin doctor --eml FILE` to check how it arrived.\n"
    )
    return message


async def _send_test(mailer: Any, settings: Settings, to: str) -> int:
    if problem := address_problem(to):
        print(f"--send-to {problem}")
        return 1
    print(f"Sending a test message to {to}:")
    try:
        reply = await mailer.send(test_message(settings, to), to)
    except MailError as exc:
        kind = "refused it for good" if exc.permanent else "did not take it this time"
        print(f"  ✗ the relay {kind}: {exc.detail}")
        return 1
    finally:
        await mailer.aclose()
    print(f"  ✓ the relay accepted it: {reply}")
    return 0


async def _smtp_test(settings: Settings, host: str | None, send_to: str | None = None) -> int:
    result = await _probe_all(settings, host)
    if send_to and result == 0:
        from service.mail.smtp import SmtpMailer

        return await _send_test(SmtpMailer(settings.smtp, host=host or settings.smtp.host), settings, send_to)
    if send_to:
        print(f"Not sending to {send_to}: the relay does not work as configured.")
    return result


async def _probe_all(settings: Settings, host: str | None) -> int:
    from service.mail.smtp import AUTO_ORDER, Route, SmtpMailer, routes_for

    smtp = settings.smtp
    if settings.uses_dev_mail_catcher and not host:
        print(
            "No [smtp] host is configured (development uses the built-in mail catcher). Pass --host to test a relay."
        )
        return 1
    target = host or smtp.host
    mailer = SmtpMailer(smtp, host=target)
    configured = routes_for(smtp)
    print(
        f"The relay as configured: {target}, port = {smtp.port!r}, security = {smtp.security!r}".replace(
            "'", '"'
        )
    )
    working = [route for route in configured if await _try(mailer, route, smtp.username)]
    others = [Route(port, mode) for port, mode in AUTO_ORDER if Route(port, mode) not in configured]
    also = []
    if others:
        print("Other standard ports on the same host:")
        also = [route for route in others if await _try(mailer, route, smtp.username)]
    if working:
        if smtp.port == "auto":
            print(
                f'optin will send through {working[0]} (port = "auto" finds it by itself and remembers it).'
            )
        else:
            print("The relay works as configured.")
        return 0
    if also:
        best = also[0]
        security = "tls" if best.mode == "tls" else "starttls"
        print(
            f"The relay does not work as configured, but {best} does:"
            f' set port = {best.port} and security = "{security}".'
        )
        return 1
    print(f"Nothing works on {target}: check the host name, the username and password, and your firewall.")
    return 1


def cmd_smtp_test(args: argparse.Namespace) -> int:
    return asyncio.run(_smtp_test(checked_settings(args), args.host, args.send_to))
