"""The SMTP envelope of one email, from the stored addresses, never parsed back out of headers.

Pure. The recipient is the contact's canonical address (what verification accepted and the
store holds). A relay that does not offer SMTPUTF8 (RFC 6531) cannot take a non-ASCII address:
an internationalised domain then goes as its A-label (punycode, the same domain in DNS), and a
non-ASCII local part, which has no ASCII spelling, is a permanent failure said in words.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from email.message import EmailMessage

import idna
from aiosmtplib.email import parse_address

from service.errors import MailError
from service.mail.mime import Email
from service.verification.transit import is_plain

UNCARRIABLE = "not sent: an address holds characters an SMTP command cannot carry"


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str


def for_relay(address: str, smtputf8: bool, whose: str = "the recipient's") -> str:
    """``address`` as a relay with or without SMTPUTF8 can take it; raises a permanent MailError."""
    if smtputf8 or address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise MailError(
            f"the relay does not offer SMTPUTF8, which {whose} address needs: it has non-ASCII"
            " characters before the @ (RFC 6531), and those have no ASCII spelling. Use a relay"
            " that offers SMTPUTF8, or drop the job",
            permanent=True,
        )
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise MailError(f"{whose} address has a domain with no ASCII form ({exc})", permanent=True) from exc
    return f"{local}@{ascii_domain}"


def carried(address: str) -> str:
    """``address``, if aiosmtplib puts exactly it on the MAIL/RCPT line; else a permanent error.

    aiosmtplib runs even explicit envelope addresses through ``parseaddr``, which drops
    comments and whatever follows a ``>``: ``a(b)c@x`` would become ``ac@x``.
    """
    if is_plain(address):  # a dot-atom address parses as itself (tests/deliverability/test_mime.py)
        return address
    try:
        on_the_line = parse_address(address)
    except ValueError:
        on_the_line = None
    if on_the_line != address:
        raise MailError(UNCARRIABLE, permanent=True)
    return address


def envelope_for(sender: str, recipient: str, smtputf8: bool) -> Envelope:
    return Envelope(
        carried(for_relay(sender, smtputf8, "the sender's")), carried(for_relay(recipient, smtputf8))
    )


def addressed_to(message: Email | EmailMessage, recipient: str) -> Email | EmailMessage:
    """``message`` with ``To:`` naming ``recipient`` (a copy, when it has to change)."""
    if isinstance(message, Email):
        return message.addressed_to(recipient)
    if message["To"] == recipient:
        return message
    changed = copy.deepcopy(message)  # the caller's message may be sent again (a retry)
    changed.replace_header("To", recipient)
    return changed
