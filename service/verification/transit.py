"""Will an address reach the relay exactly as typed? Pure: no I/O.

An email's ``To:`` header goes through Python's email library, which parses what it is given:
it *decodes* RFC 2047 encoded words (``=?utf-8?q?victim?=@example.org`` becomes
``victim@example.org``, ``=?utf-8?q?a=40evil.example?=@example.org`` a different mailbox) and
refuses line breaks hidden inside them. The address we store, budget, put in the envelope and
in the header must be one and the same string, so an address the library would read differently
is refused at verification, and again when an email is built (for contacts stored before).
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import AddressHeader, HeaderRegistry
from email.policy import SMTP, SMTPUTF8
from functools import lru_cache

ENCODED_WORD_OPENER = "=?"  # RFC 2047 section 2: every encoded word starts with it
ENCODED_WORD_MESSAGE = (
    "The part before the @ contains “=?”, which email programs read as an encoded word"
    " and turn into another address. Please type the address itself."
)
UNWRITABLE_MESSAGE = "This address would change on its way into an email. Please check it."

_HEADERS = HeaderRegistry()
# A dot-atom local part and domain of the commonest characters, short enough for one header
# line: the library writes it as it is and reads it back unchanged (tests/deliverability/test_mime.py
# holds this against the library), so it is not parsed twice per address.
_PLAIN = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PLAIN_MAX = 74  # "To: " and the address in 78 characters


def is_plain(address: str) -> bool:
    """Whether the library writes ``address`` in a ``To:`` header exactly as it is, on one line."""
    return len(address) <= PLAIN_MAX and _PLAIN.fullmatch(address) is not None


def encoded_word_in(local: str) -> bool:
    """Whether a local part holds what could start an RFC 2047 encoded word."""
    return ENCODED_WORD_OPENER in local


@lru_cache(maxsize=4096)
def header_reading(address: str) -> str | None:
    """The address the email library reads back from a ``To:`` header holding ``address``, as
    written for a relay (UTF-8 headers when the address needs SMTPUTF8); None when it cannot."""
    if is_plain(address):
        return address
    return library_reading(address)


def library_reading(address: str) -> str | None:
    """:func:`header_reading` the long way: written by the email library and parsed back."""
    try:
        header = _HEADERS("To", address)
        assert isinstance(header, AddressHeader)
        if len(header.addresses) != 1:
            return None
        written = header.fold(policy=SMTPUTF8 if not address.isascii() else SMTP)
        unfolded = written.partition(":")[2].replace("\r\n", "").strip()  # RFC 5322 2.2.3
        reread = _HEADERS("To", unfolded)
        assert isinstance(reread, AddressHeader)
        if len(reread.addresses) != 1:
            return None
        return str(reread.addresses[0].addr_spec)
    except (HeaderParseError, ValueError, TypeError, IndexError):
        return None


def transit_problem(local: str, address: str) -> tuple[str, str] | None:
    """``(code, message)`` when ``address`` would not reach the relay as typed, else None."""
    if encoded_word_in(local):
        return "encoded_word", ENCODED_WORD_MESSAGE
    if header_reading(address) != address:
        return "unwritable_address", UNWRITABLE_MESSAGE
    return None
