"""The emails we send, written as MIME bytes without building an EmailMessage. Pure.

Every subscription email is the same shape: a few headers and a multipart/alternative of a
UTF-8 text part and a UTF-8 HTML part. Building that with ``EmailMessage`` costs ~2 ms an
email (its header registry parses every header we set, ``set_content`` and ``add_alternative``
rebuild the tree, the generator re-parses on the way out), which capped the outbox at a
quarter of what the relay takes. Here the bytes are written directly:

- headers whose value repeats from email to email (From, Subject, List-Id) are folded once by
  the email library itself (with :data:`service.mail.headers.MAIL_POLICY`) and the line kept,
  so they are byte for byte what the library writes; the ones that change per email (To, Date,
  Message-ID, List-Unsubscribe) are written directly when their value has a shape the library
  writes unchanged (plain ASCII on one line), and folded by the library otherwise;
- a body that is ASCII with lines of at most 78 characters goes as 7bit, as the library would
  send it; any other as quoted-printable (binascii's C encoder: lines of at most 76
  characters, trailing spaces encoded), so the message is 7-bit clean whatever the relay
  offers and a DKIM signature over it survives every hop;
- lines end in CRLF, the boundary is random and checked against the bodies.

``tests/deliverability/test_mime.py`` parses these bytes back with the email library and
compares them with the EmailMessage the same email used to be, for every template and language.
"""

from __future__ import annotations

import binascii
import random
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache

from service.errors import MailError
from service.mail.headers import KEPT_WHOLE, MAIL_POLICY, MAX_LINE
from service.verification.transit import is_plain

CRLF = b"\r\n"
MAX_7BIT_LINE = 78  # the library's policy.max_line_length: longer lines go quoted-printable
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+>")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_SMTP = policy.SMTP
_SMTPUTF8 = policy.SMTPUTF8


def mail_date(when: datetime | None = None) -> str:
    """A Date: value as the library writes it (``+0000``, whole seconds); now by default."""
    if when is None:
        return _date_of_second(int(time.time()))
    return format_datetime(when.astimezone(UTC))


@lru_cache(maxsize=2)
def _date_of_second(second: int) -> str:
    return format_datetime(datetime.fromtimestamp(second, UTC))


@lru_cache(maxsize=1024)
def _folded(name: str, value: str, utf8: bool) -> str:
    """``name: value`` folded by the email library, exactly as its generator would write it."""
    try:
        header = MAIL_POLICY.header_store_parse(name, value)[1]
    except ValueError:
        raise MailError(f"not sent: the {name} header would hold a line break", permanent=True) from None
    return str(header.fold(policy=_SMTPUTF8 if utf8 else _SMTP))


def _direct(name: str, value: str) -> str | None:
    """The line for a per-email value whose shape the library writes unchanged; None otherwise."""
    key = name.lower()
    if key == "to":
        plain = is_plain(value)
    elif key == "message-id":
        plain = len(value) <= MAX_7BIT_LINE - 12 and _MESSAGE_ID.fullmatch(value) is not None
    elif key == "date":
        plain = _rewritten_date(value) == value
    elif key in KEPT_WHOLE:  # written whole on one line (service.mail.headers), encoded words aside
        plain = "=?" not in value and len(name) + 2 + len(value) <= MAX_LINE
        plain = plain and _PRINTABLE.fullmatch(value) is not None
    else:
        return None
    return f"{name}: {value}\r\n" if plain else None


@lru_cache(maxsize=16)  # the emails of one second share their Date
def _rewritten_date(value: str) -> str | None:
    """What the library's Date header makes of ``value`` (it re-formats every date it reads)."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return mail_date(when) if when.tzinfo is not None else None


_Q_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
EW_OVERHEAD = len("=?utf-8?q??=")
EW_MAX = 75  # RFC 2047: an encoded word is at most 75 characters
MAX_FOLDED = 78
LONGEST_WORD = 900  # octets: an unbroken word longer than this goes as encoded words, which can be split
LONGEST_SPACE = 40  # a longer run of whitespace goes inside encoded words (no line is only whitespace)


def _q(char: str) -> str:
    if char in _Q_SAFE:
        return char
    if char == " ":
        return "_"
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


def _encoded_words(text: str, longest: int) -> list[str]:
    """``text`` as RFC 2047 Q encoded words of at most ``longest`` characters, split between
    characters, never inside one."""
    room = min(longest, EW_MAX) - EW_OVERHEAD
    words, current = [], ""
    for char in text:
        encoded = _q(char)
        if current and len(current) + len(encoded) > room:
            words.append(current)
            current = ""
        current += encoded
    return [f"=?utf-8?q?{word}?=" for word in [*words, current]]


def _needs_encoding(word: str, utf8: bool) -> bool:
    # "=?" would be read as the start of an encoded word; control characters (C0, DEL, C1) have
    # no place raw. Length counts octets: a UTF-8 header's 998-octet limit is in octets.
    if "=?" in word or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in word):
        return True
    if not word.isascii():
        return not utf8 or len(word.encode("utf-8")) > LONGEST_WORD
    return len(word) > LONGEST_WORD


@lru_cache(maxsize=1024)
def _unstructured(name: str, value: str, utf8: bool) -> str:
    """An unstructured header (Subject), folded at whitespace, non-ASCII words as encoded words.

    The email library folds a subject with a non-ASCII word after the fold point into
    ``del \r\n =?utf-8?q?A=C3=B1o?=``, which unfolds to two spaces ("del  Año"). Here
    whitespace is kept exactly: a fold only ever goes in front of existing whitespace, and the
    spaces between encoded words are inside them (whitespace between two encoded words is
    dropped when they are read, RFC 2047 section 6.2).
    """
    if len(value.splitlines()) > 1 or "\r" in value or "\n" in value:
        raise MailError(f"not sent: the {name} header would hold a line break", permanent=True)
    pieces = re.split(r"([ \t]+)", value.strip(" \t"))  # word, space, word, space, …

    def to_encode(i: int) -> bool:  # the word at pieces[i]; a long space is encoded with both its words
        long_space = any(0 < j < len(pieces) and len(pieces[j]) > LONGEST_SPACE for j in (i - 1, i + 1))
        return long_space or _needs_encoding(pieces[i], utf8)

    atoms: list[tuple[str, str]] = []  # (whitespace before, atom)
    i = 0
    while i < len(pieces):
        word = pieces[i]
        if not to_encode(i):
            atoms.append((pieces[i - 1] if i else " ", word))
            i += 2
            continue
        run_start = i  # a run of words to encode, with the whitespace between them
        while i + 2 < len(pieces) and to_encode(i + 2):
            i += 2
        run = "".join(pieces[run_start : i + 1])
        # Each fits on the first line after "Name: ", so no line is left holding the name alone.
        for n, encoded in enumerate(_encoded_words(run, MAX_FOLDED - len(name) - 2)):
            atoms.append((pieces[run_start - 1] if n == 0 and run_start else " ", encoded))
        i += 2
    lines, line = [], f"{name}:"
    for space, atom in atoms:
        if len(line) + len(space) + len(atom) > MAX_FOLDED and line != f"{name}:":
            lines.append(line)
            line = ""
        line += space + atom
    return "\r\n".join([*lines, line]) + "\r\n"


def header_line(name: str, value: str, utf8: bool = False) -> str:
    """``Name: value`` as it goes on the wire, folded, ending in CRLF."""
    if name.lower() == "subject":
        return _unstructured(name, value, utf8)
    return _direct(name, value) or _folded(name, value, utf8)


def encoded_body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body bytes with CRLF line ends) for a UTF-8 text part."""
    lines = text.encode("utf-8").splitlines()  # \r, \n and \r\n, as the library splits them
    body = CRLF.join(lines) + CRLF
    if text.isascii() and all(len(line) <= MAX_7BIT_LINE for line in lines):
        return "7bit", body
    # istext: line breaks stay line breaks (CRLF, as the first one is); trailing blanks encoded.
    return "quoted-printable", binascii.b2a_qp(body, quotetabs=False, istext=True, header=False)


def _boundary(*bodies: bytes) -> str:
    # "=_" never occurs in quoted-printable, and a 7bit body is checked, so it need not be secret.
    while True:
        boundary = f"=_optin_{random.getrandbits(96):024x}"
        if not any(boundary.encode() in body for body in bodies):
            return boundary


@dataclass(frozen=True)
class Email:
    """One email as we send it: headers in order, and the text and HTML bodies.

    ``headers`` holds (name, value) pairs as given (decoded text); the MIME headers are added
    when written. ``email["Message-ID"]`` reads a header; :meth:`as_bytes` writes the message;
    :attr:`parsed` is those bytes read back by the email library, for code that inspects mail.
    """

    headers: tuple[tuple[str, str], ...]
    text: str
    html: str

    def __getitem__(self, name: str) -> str | None:
        key = name.lower()
        return next((value for header, value in self.headers if header.lower() == key), None)

    def addressed_to(self, recipient: str) -> Email:
        """The same email with ``To:`` naming ``recipient``."""
        if self["To"] == recipient:
            return self
        return replace(
            self, headers=tuple((n, recipient if n.lower() == "to" else v) for n, v in self.headers)
        )

    def as_bytes(self, *, utf8: bool = False) -> bytes:
        """The message, CRLF line ends; ``utf8``: the relay takes SMTPUTF8 (RFC 6532 headers)."""
        text_cte, text = encoded_body(self.text)
        html_cte, html = encoded_body(self.html)
        boundary = _boundary(text, html)
        head = "".join(header_line(name, value, utf8) for name, value in self.headers)
        if not utf8 and not head.isascii():
            raise MailError(
                "not sent: a header holds characters only a relay with SMTPUTF8 can take", permanent=True
            )
        delimiter = f"--{boundary}\r\n".encode()
        return b"".join(
            (
                head.encode("utf-8" if utf8 else "ascii"),
                b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="',
                boundary.encode(),
                b'"\r\n\r\n',
                delimiter,
                b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: ',
                text_cte.encode(),
                b"\r\n\r\n",
                text,
                CRLF,
                delimiter,
                b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: ',
                html_cte.encode(),
                b"\r\n\r\n",
                html,
                b"\r\n--",
                boundary.encode(),
                b"--\r\n",
            )
        )

    @property
    def parsed(self) -> EmailMessage:
        """The message as a receiver reads it (the email library's view of :meth:`as_bytes`)."""
        return parse(self.as_bytes(utf8=not (self["To"] or "").isascii()))


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
