"""Our MIME writer on inputs chosen to break it: any list title, sender name and first name,
read back by the email library as the EmailMessage the library itself would have built; subjects
no header line can hold; line breaks smuggled into every header; DKIM over the bytes sent."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid

import dkim
import pytest
from aiosmtplib.email import flatten_message
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.errors import MailError
from service.mail.compose import confirmation_email, welcome_email
from service.mail.dkim import DkimSigner, generate
from service.mail.identity import identity_for
from service.mail.mime import Email, header_line, parse
from service.mail.smtp import wire_bytes
from service.render import Renderer
from service.settings import REPO_ROOT
from tests.support.reference_mail import as_email_message

RENDERER = Renderer(REPO_ROOT / "templates")
UNSUBSCRIBE = "https://lists.example.com/unsubscribe/eyJjIjoxMjN9.Zx1a2b.sig"
SENDERS = [
    "news@example.com",
    "Bench <news@example.com>",
    "Équipe Café Crème <news@example.com>",
    '"Quoted, Name" <news@example.com>',
    "日本語のニュースレター編集部 <news@example.com>",
    "Ωmega Ŋews Ψ " + "Долгое имя отправителя " * 3 + "<news@example.com>",
]
# (stored address, whether it needs SMTPUTF8)
RECIPIENTS = [("reader@example.org", False), ('"ann lee"@example.org', False), ("zoë@münchen.de", True)]
# Text a header could hold: anything but surrogates and the characters str.splitlines breaks at
# (those are refused: see test_a_line_break_in_any_header_is_refused).
BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
header_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=BREAKS), max_size=160)


def _octets_per_line(raw: bytes) -> int:
    return max(len(line) for line in raw.split(b"\r\n"))


def _parts(message: EmailMessage) -> list[tuple[str, str | None, str]]:
    return [
        (p.get_content_type(), p.get_content_charset(), p.get_content().replace("\r\n", "\n"))
        for p in message.iter_parts()
    ]


def _emails(sender: str, to: str, title: str, first_name: str | None) -> list[Email]:
    who = identity_for(None, "newsletter", title, sender)
    common = {"sender": sender, "to": to, "language": "en", "list_title": title, "first_name": first_name}
    confirm = confirmation_email(
        RENDERER,
        **common,  # type: ignore[arg-type]
        confirm_url="https://lists.example.com/confirm/tok",
        expires_days=7,
        message_id=make_msgid(domain="example.com"),
        code="123456",
        identity=who,
    )
    welcome = welcome_email(
        RENDERER,
        **common,  # type: ignore[arg-type]
        unsubscribe_url=UNSUBSCRIBE,
        message_id=make_msgid(domain="example.com"),
        identity=who,
    )
    return [confirm, welcome]


@given(
    st.sampled_from(SENDERS),
    st.sampled_from(RECIPIENTS),
    header_text,
    st.one_of(st.none(), header_text.filter(lambda name: name.strip() != "")),
)
@example(SENDERS[4], RECIPIENTS[2], "ニュース" * 40, "太郎")
@example(SENDERS[2], RECIPIENTS[0], "Noticias del Año " * 12, "José")
@example(SENDERS[1], RECIPIENTS[1], "x=?utf-8?q?evil?= and\ttabs   and   spaces ", "Ann")
@settings(max_examples=150, deadline=None)
def test_any_email_reads_back_as_the_library_would_build_it(
    sender: str, recipient: tuple[str, bool], title: str, first_name: str | None
) -> None:
    to, utf8 = recipient
    for email in _emails(sender, to, title, first_name):
        ours_raw = wire_bytes(email, None, utf8=utf8, eight_bit=False)
        library = as_email_message(email)
        theirs, ours = parse(flatten_message(library, utf8=utf8, cte_type="7bit")), parse(ours_raw)
        # Every header reads back as the library's own (the Subject exactly as given: the
        # library's folding can add a space, "del  Año"), in the same order.
        assert [k for k, _ in ours.items()][:-2] == [k for k, _ in theirs.items()][:-2]
        for name in ("From", "To", "Date", "Message-ID", "Auto-Submitted", "List-Id", "List-Unsubscribe"):
            assert str(ours[name]) == str(theirs[name]), name
        # (The library itself writes "x=?utf-8?q?evil?=" raw, to be read back as "xevil".)
        assert ours["Subject"] == email["Subject"].strip(" \t")  # type: ignore[union-attr]
        assert _parts(ours) == _parts(theirs)
        assert _octets_per_line(ours_raw) <= 998
        assert utf8 or ours_raw.isascii()


@pytest.mark.parametrize("utf8", [False, True])
@pytest.mark.parametrize(
    "subject",
    [
        "日本語のお知らせ" * 150,  # 1,200 characters, 3,600 octets, no space to fold at
        "é" * 700,
        "a" * 2000,
        "Start" + " " * 600 + "end",
        "Start" + "\t " * 300 + "日本",
        ("mot " * 20) + "x" * 950 + (" mot" * 20),
        "=?utf-8?q?not_an_encoded_word?=" * 40,
    ],
)
def test_a_subject_no_line_can_hold_is_folded_within_998_octets_and_reads_back(
    subject: str, utf8: bool
) -> None:
    line = header_line("Subject", subject, utf8)
    raw = line.encode()
    assert _octets_per_line(raw) <= 998, [len(part) for part in raw.split(b"\r\n")]
    assert utf8 or raw.isascii()
    for part in line.split("\r\n")[1:-1]:
        assert part[:1] in (" ", "\t") and part.strip(" \t"), "a folded line is never only whitespace"
    assert parse(raw + b"\r\nbody\r\n")["Subject"] == subject.strip(" \t")


# Line breaks smuggled into a header: a Bcc added, or a header the signature does not cover.
SMUGGLED = [
    "\r\nBcc: victim@example.org",
    "\nBcc: victim@example.org",
    "\rBcc: x",
    "\u2028Bcc: x",
    "\x85Bcc: x",
]


@pytest.mark.parametrize("smuggled", SMUGGLED)
def test_a_line_break_in_any_header_is_refused(smuggled: str) -> None:
    base = {"sender": "news@example.com", "to": "reader@example.org", "title": "News"}
    for field in ("sender", "to", "title"):
        values = {**base, field: base[field] + smuggled}
        with pytest.raises(MailError) as caught:
            for email in _emails(values["sender"], values["to"], values["title"], "Ann"):
                email.as_bytes()
        assert caught.value.permanent, field
    email = _emails("news@example.com", "reader@example.org", "News", None)[1]
    headers = tuple((n, v + smuggled if n == "List-Unsubscribe" else v) for n, v in email.headers)
    with pytest.raises(MailError):
        Email(headers, email.text, email.html).as_bytes()


@pytest.mark.parametrize("smuggled", SMUGGLED)
def test_a_line_break_in_the_first_name_stays_in_the_body(smuggled: str) -> None:
    first_name = "Ann" + smuggled + "\r\n\r\n--boundary--\r\nContent-Type: text/html"
    for email in _emails("news@example.com", "reader@example.org", "News", first_name):
        message = parse(email.as_bytes())
        assert message["Bcc"] is None and len(message.keys()) == len(email.headers) + 2
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert "Bcc: " in parts[0].get_content()


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
@pytest.mark.parametrize("utf8", [False, True])
def test_dkim_verifies_over_the_bytes_we_send_with_non_ascii_headers(algorithm: str, utf8: bool) -> None:
    pem, key = generate(algorithm)  # type: ignore[arg-type]
    signer = DkimSigner("example.com", "s1", pem)
    record = key.dns_value().encode()

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        return record if name == b"s1._domainkey.example.com." else None

    to = "zoë@münchen.de" if utf8 else "reader@example.org"
    for sender in SENDERS[2:]:
        for email in _emails(sender, to, "日本語のお知らせ " * 20 + "Noticias del Año", "Zoë"):
            raw = wire_bytes(email, signer, utf8=utf8, eight_bit=False)
            assert dkim.verify(raw, dnsfunc=txt), sender
            assert not dkim.verify(re.sub(rb"Subject: ", b"Subject: Re: ", raw, count=1), dnsfunc=txt)
