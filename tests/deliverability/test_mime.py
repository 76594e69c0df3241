"""Our MIME writer against the email library: the bytes we send read back as the EmailMessage
optin used to build, for every template in every language, with non-ASCII names and subjects;
and each shortcut the writer takes writes exactly what the library would."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from aiosmtplib.email import flatten_message, parse_address
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import MailError
from service.mail.compose import confirmation_email, welcome_email
from service.mail.envelope import addressed_to, for_relay
from service.mail.identity import identity_for
from service.mail.mime import Email, _direct, _folded, header_line, mail_date, parse
from service.mail.smtp import wire_bytes
from service.render import Renderer
from service.settings import LANGUAGES, REPO_ROOT
from service.verification.transit import header_reading, is_plain, library_reading
from tests.support.reference_mail import as_email_message

RENDERER = Renderer(REPO_ROOT / "templates")
UNSUBSCRIBE = "https://lists.example.com/unsubscribe/" + "eyJjIjoxMjN9.Zx1a2b." + "A" * 90

# (sender, recipient as stored, first name, form title, relay offers SMTPUTF8)
PEOPLE = [
    ("Bench <bench@example.com>", "reader@example.org", "Ann", "Bench", False),
    ("news@example.com", "ann.lee+news@example.org", None, "The Weekly, Issue: 12", False),
    (
        "Équipe Café Crème <news@example.com>",
        "zoë@example.org",
        "Zoë Łukasiewicz-Żółć",
        "Café « Spécial » — les nouvelles de la Straße, chaque semaine, sans faute",
        True,
    ),
    ("Ünïcode Sender <news@example.com>", "jose@münchen.de", "José", "Noticias del Año", False),
    ("Ünïcode Sender <news@example.com>", "jose@münchen.de", "José", "Noticias del Año", True),
    ('"Quoted, Name" <a@example.com>', '"ann lee"@example.org', "Ann", "Liste 日本語のニュース", False),
]


def _emails(language: str, sender: str, to: str, name: str | None, title: str) -> list[Email]:
    who = identity_for(None, "newsletter", title, sender)
    confirm = {
        "sender": sender,
        "to": to,
        "language": language,
        "list_title": title,
        "first_name": name,
        "confirm_url": "https://lists.example.com/confirm/" + "t" * 120,
        "expires_days": 7,
        "message_id": make_msgid(domain="example.com"),
        "identity": who,
    }
    return [
        confirmation_email(RENDERER, **confirm),  # type: ignore[arg-type]
        confirmation_email(RENDERER, **confirm, code="123456"),  # type: ignore[arg-type]
        confirmation_email(RENDERER, **confirm, reminder=True),  # type: ignore[arg-type]
        welcome_email(
            RENDERER,
            sender=sender,
            to=to,
            language=language,
            list_title=title,
            first_name=name,
            unsubscribe_url=UNSUBSCRIBE,
            message_id=make_msgid(domain="example.com"),
            identity=who,
        ),
    ]


def _content_type(message: EmailMessage) -> tuple[str, list[tuple[str, str]]]:
    params = [(k, str(v)) for k, v in message["Content-Type"].params.items() if k != "boundary"]
    return message.get_content_type(), params


def _headers(message: EmailMessage) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in message.items() if k.lower() not in ("content-type", "subject")]


def _parts(message: EmailMessage) -> list[tuple[str, str | None, str]]:
    return [(p.get_content_type(), p.get_content_charset(), p.get_content()) for p in message.iter_parts()]


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _head(raw: bytes) -> bytes:
    """The header lines before the MIME ones, but Subject (written by our own folding)."""
    head = raw.split(b"\r\nMIME-Version:", 1)[0]
    return re.sub(rb"Subject:.*?\r\n(?=\S)", b"", head, flags=re.DOTALL)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("person", range(len(PEOPLE)))
def test_every_email_reads_back_as_the_email_message_it_used_to_be(language: str, person: int) -> None:
    sender, stored, name, title, smtputf8 = PEOPLE[person]
    recipient = for_relay(stored, smtputf8)  # the A-label domain when the relay has no SMTPUTF8
    utf8 = not recipient.isascii()
    for email in _emails(language, sender, stored, name, title):
        sent = addressed_to(email, recipient)
        assert isinstance(sent, Email)
        new = wire_bytes(sent, None, utf8=utf8, eight_bit=True)
        before = as_email_message(sent)
        for cte_type in ("7bit", "8bit"):  # signed mail was flattened 7-bit, unsigned 8-bit
            old = flatten_message(before, utf8=utf8, cte_type=cte_type)
            # The header lines are the library's own, byte for byte, the subject's aside.
            assert _head(new) == _head(old), (_head(new), _head(old))
            theirs, ours = parse(old), parse(new)
            assert _headers(ours) == _headers(theirs)
            assert _content_type(ours) == _content_type(theirs) == ("multipart/alternative", [])
            assert _parts(ours) == _parts(theirs)
        parts = _parts(parse(new))
        assert [p[:2] for p in parts] == [("text/plain", "utf-8"), ("text/html", "utf-8")]
        # Read back with the CRLF line ends it travelled with, ending in one, as any email.
        assert [p[2].replace("\r\n", "\n") for p in parts] == [_ended(email.text), _ended(email.html)]
        # The subject reads back exactly; the library's folding could add a space ("del  Año").
        assert parse(new)["To"] == recipient and parse(new)["Subject"] == email["Subject"]
        _assert_well_formed(new, utf8)


def _assert_well_formed(raw: bytes, utf8: bool) -> None:
    assert (
        b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    )
    if not utf8:
        assert raw.isascii(), "7-bit clean unless the relay takes SMTPUTF8"
    else:  # only headers may carry UTF-8; bodies are quoted-printable
        assert raw.split(b"\r\n\r\n", 1)[1].isascii()
    for line in raw.split(b"\r\n"):  # 78 characters (UTF-8 ones count once), 998 octets
        assert len(line.decode()) <= (998 if line.startswith(b"List-Unsubscribe:") else 78), line
        assert len(line) <= 998


def test_a_body_line_that_could_end_the_message_or_the_part_survives() -> None:
    email = Email(
        (("From", "a@example.com"), ("To", "b@example.org"), ("Subject", "x")),
        text=".\n--=_optin_not_a_boundary\nFrom the start, tabs\t\nand spaces   \nend",
        html="<p>é</p>\r\n.\r\n",
    )
    back = [p[2].replace("\r\n", "\n") for p in _parts(parse(email.as_bytes()))]
    assert back == [
        ".\n--=_optin_not_a_boundary\nFrom the start, tabs\t\nand spaces   \nend\n",
        "<p>é</p>\n.\n",
    ]


def test_a_header_that_would_hold_a_line_break_is_refused_in_words() -> None:
    email = Email((("From", "a@example.com"), ("Subject", "one\ntwo")), "x", "<p>x</p>")
    with pytest.raises(MailError) as caught:
        email.as_bytes()
    assert caught.value.permanent and "Subject header would hold a line break" in caught.value.detail


# The shortcuts: each writes what the library writes -------------------------------------------

ADDRESSES = [
    "ann@example.org",
    "Ann.Lee+tag@Sub.Example.ORG",
    "a_b%c-d@x-y.example",
    "x" * 60 + "@example.org",  # 72: still one line
    "x" * 63 + "@example.org",  # 75: past the shortcut
    "a..b@example.org",
    ".ann@example.org",
    "ann@example",
    '"ann lee"@example.org',
    "a/b@example.org",
    "what?@example.org",
    "a=b@example.org",
    "zoë@example.org",
    "ann@münchen.de",
    "ann@[192.0.2.1]",
    "ann@-example.org",
]


def _library_line(name: str, value: str) -> str:
    return _folded(name, value, False)


@pytest.mark.parametrize("address", ADDRESSES)
def test_a_plain_address_is_written_and_read_as_the_library_does(address: str) -> None:
    if is_plain(address):
        assert library_reading(address) == address
        assert _direct("To", address) == _library_line("To", address) == f"To: {address}\r\n"
        assert parse_address(address) == address
    else:
        assert _direct("To", address) is None
    assert header_reading(address) == library_reading(address)


@given(st.emails().map(str))
@settings(max_examples=300, deadline=None)
def test_generated_addresses_take_the_shortcut_only_when_the_library_agrees(address: str) -> None:
    if is_plain(address):
        assert library_reading(address) == address
        assert _direct("To", address) == _library_line("To", address)
        assert parse_address(address) == address  # what aiosmtplib puts on MAIL FROM / RCPT TO


def test_message_ids_and_dates_are_written_as_the_library_writes_them() -> None:
    for domain in ("example.com", "mail.example.co.uk", "localhost", "x" * 40 + ".example"):
        message_id = make_msgid(domain=domain)
        line = _direct("Message-ID", message_id)
        assert line is None or line == _library_line("Message-ID", message_id)
    assert _direct("Message-ID", make_msgid(domain="example.com")) is not None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hours in range(0, 24 * 400, 37):
        date = mail_date(start + timedelta(hours=hours, seconds=hours % 60))
        assert _direct("Date", date) == _library_line("Date", date)
    # A date the library would rewrite (wrong weekday, GMT, -0000) is left to the library.
    for odd in ("Tue, 30 Nov 2026 13:37:15 +0000", "Mon, 30 Nov 2026 13:37:15 GMT", "junk"):
        assert _direct("Date", odd) is None


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=1100))
@settings(max_examples=300, deadline=None)
def test_one_click_headers_are_written_whole_as_the_library_writes_them(tail: str) -> None:
    for value in (f"<{UNSUBSCRIBE}{tail}>", tail):
        line = _direct("List-Unsubscribe", value)
        assert line is None or line == _library_line("List-Unsubscribe", value)


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=300), st.booleans())
@settings(max_examples=500, deadline=None)
def test_any_subject_reads_back_exactly_and_folds_within_the_limits(subject: str, utf8: bool) -> None:
    if len(subject.splitlines()) > 1 or "\r" in subject or "\n" in subject:
        with pytest.raises(MailError):
            header_line("Subject", subject, utf8)
        return
    line = header_line("Subject", subject, utf8)
    assert line.endswith("\r\n") and (utf8 or line.isascii())
    for part in line.split("\r\n"):  # past 78 only for one unbreakable word (998 at most)
        word = part.removeprefix("Subject:").strip(" \t")
        assert len(part) <= 78 or (len(part) <= 998 and not re.search(r"[ \t]", word)), line
    back = parse(line.encode() + b"\r\nbody\r\n")["Subject"]
    assert back == subject.strip(" \t"), line
