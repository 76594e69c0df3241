"""SMTP RCPT probe: ask the domain's mail server whether the mailbox exists (off by default).

Port 25 is blocked on most clouds and big providers answer every RCPT alike, so this is opt-in
(``[verification] probe = true``). HELO and MAIL FROM come from the config; a second RCPT to a
random mailbox detects catch-all servers; a 4xx reply (greylisting) or any network trouble is
``unknown``; the whole conversation has a hard deadline. Gmail, Microsoft 365/Outlook and Yahoo
are skipped with a reason: their replies say nothing about the mailbox.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from service.verification.config import VerifierConfig
from service.verification.dnscheck import MailDomain, parse_nameserver

Outcome = Literal["accepted", "rejected", "catch_all", "unknown", "skipped"]

UNPROBEABLE_MX_SUFFIXES = (
    "google.com",
    "googlemail.com",
    "protection.outlook.com",
    "outlook.com",
    "hotmail.com",
    "yahoodns.net",
    "yahoo.com",
)


@dataclass(frozen=True)
class ProbeResult:
    outcome: Outcome
    reason: str
    code: int | None = None


def unprobeable(hosts: tuple[str, ...]) -> bool:
    return any(h == s or h.endswith("." + s) for h in hosts for s in UNPROBEABLE_MX_SUFFIXES)


async def _conversation(
    local: str, ascii_domain: str, host: str, port: int, config: VerifierConfig
) -> ProbeResult:
    smtp = aiosmtplib.SMTP(hostname=host, port=port, timeout=config.probe_timeout, start_tls=False)
    await smtp.connect()
    try:
        await smtp.ehlo(hostname=config.probe_helo)
        await smtp.mail(config.probe_mail_from)
        try:
            await smtp.rcpt(f"{local}@{ascii_domain}")
        except aiosmtplib.SMTPRecipientRefused as refused:
            if 500 <= refused.code < 600:
                return ProbeResult("rejected", "mailbox_not_found", refused.code)
            return ProbeResult("unknown", "probe_temporary_failure", refused.code)
        try:
            await smtp.rcpt(f"optin-{secrets.token_hex(8)}@{ascii_domain}")
        except aiosmtplib.SMTPRecipientRefused:
            return ProbeResult("accepted", "mailbox_exists", 250)
        return ProbeResult("catch_all", "catch_all", 250)
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()


async def probe_mailbox(
    local: str, ascii_domain: str, mail: MailDomain, config: VerifierConfig
) -> ProbeResult:
    """Probe the first reachable MX host (or ``config.probe_connect``) for ``local@ascii_domain``."""
    if unprobeable(mail.hosts):
        return ProbeResult("skipped", "probe_skipped_provider")
    if config.probe_connect:
        host, port = parse_nameserver(config.probe_connect)
    elif mail.addresses:
        host, port = mail.addresses[0], config.probe_port
    else:
        return ProbeResult("skipped", "probe_no_host")
    try:
        async with asyncio.timeout(config.probe_timeout):
            return await _conversation(local, ascii_domain, host, port, config)
    except TimeoutError:
        return ProbeResult("unknown", "probe_timeout")
    except aiosmtplib.SMTPResponseException as exc:
        # refused at connect, HELO or MAIL FROM: that is about us, not about the mailbox
        return ProbeResult("unknown", "probe_refused", exc.code)
    except (aiosmtplib.SMTPException, OSError):
        return ProbeResult("unknown", "probe_unreachable")
