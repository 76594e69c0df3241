"""Building the emails we send. Pure: templates in, :class:`service.mail.mime.Email` out.

``To:`` holds the recipient's stored address exactly. Email software parses what it is given,
so an address the email library would read as something else (an RFC 2047 encoded word, a line
break hidden in one) is refused here with a permanent error, not sent to whoever a reader makes
of it. Since verification refuses such addresses, only contacts stored by an older version can
meet this.
"""

from __future__ import annotations

from email.utils import make_msgid, parseaddr

from service.errors import MailError
from service.mail.identity import MailIdentity, identity_for
from service.mail.mime import Email, mail_date
from service.render import Renderer
from service.verification.transit import transit_problem

# Said to the site owner (``optin outbox``), without the address itself.
_UNSENDABLE = {
    "encoded_word": "the recipient's address contains “=?”, which email software decodes as an"
    " RFC 2047 encoded word into another address",
    "unwritable_address": "the email library would rewrite the recipient's address in the To: header",
}


def new_message_id(sender: str) -> str:
    """A Message-ID on the sender's domain, fixed when the job is queued so retries reuse it."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def _identity(identity: MailIdentity | None, sender: str, list_title: str) -> MailIdentity:
    if identity is not None:
        return identity
    return identity_for(None, "list", list_title, sender)


def _base(sender: str, to: str, subject: str, message_id: str) -> list[tuple[str, str]]:
    problem = transit_problem(to.rpartition("@")[0], to)
    if problem is not None:
        raise MailError(f"not sent: {_UNSENDABLE[problem[0]]}; it cannot be sent as stored", permanent=True)
    return [
        ("From", sender),
        ("To", to),
        ("Subject", subject),
        ("Date", mail_date()),
        ("Message-ID", message_id),
        # RFC 3834: tells auto-responders not to answer, and vacation replies not to fire.
        ("Auto-Submitted", "auto-generated"),
    ]


def confirmation_email(
    renderer: Renderer,
    *,
    sender: str,
    to: str,
    language: str,
    list_title: str,
    first_name: str | None,
    confirm_url: str,
    expires_days: int,
    message_id: str,
    code: str | None = None,
    reminder: bool = False,
    identity: MailIdentity | None = None,
) -> Email:
    """``code``: the 6-digit code the widget takes instead of the link; ``reminder``: the one
    reminder (service.reminders), the same email under its own subject."""
    subject = renderer.phrase(
        language, "reminder_subject" if reminder else "confirm_subject", list=list_title
    )
    who = _identity(identity, sender, list_title)
    context = {
        "list_title": list_title,
        "first_name": first_name,
        "confirm_url": confirm_url,
        "expires_days": expires_days,
        "code": code,
        "sender_name": who.sender_name,
        "site": who.site,
    }
    headers = [*_base(sender, to, subject, message_id), ("List-Id", who.list_id)]
    return Email(
        tuple(headers),
        renderer.text("email/confirm.txt", language, **context),
        renderer.html("email/confirm.html", language, **context),
    )


def welcome_email(
    renderer: Renderer,
    *,
    sender: str,
    to: str,
    language: str,
    list_title: str,
    first_name: str | None,
    unsubscribe_url: str,
    message_id: str,
    identity: MailIdentity | None = None,
) -> Email:
    subject = renderer.phrase(language, "welcome_subject", list=list_title)
    who = _identity(identity, sender, list_title)
    context = {
        "list_title": list_title,
        "first_name": first_name,
        "unsubscribe_url": unsubscribe_url,
        "sender_name": who.sender_name,
        "site": who.site,
    }
    headers = [
        *_base(sender, to, subject, message_id),
        ("List-Id", who.list_id),
        # RFC 8058 one-click: mailbox providers POST "List-Unsubscribe=One-Click" to this URL.
        ("List-Unsubscribe", f"<{unsubscribe_url}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    return Email(
        tuple(headers),
        renderer.text("email/welcome.txt", language, **context),
        renderer.html("email/welcome.html", language, **context),
    )
