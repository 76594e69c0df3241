"""Building the emails we send. Pure: templates in, EmailMessage out."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from service.render import Renderer


def new_message_id(sender: str) -> str:
    """A Message-ID on the sender's domain, fixed when the job is queued so retries reuse it."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def _base(sender: str, to: str, subject: str, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    # RFC 3834: tells auto-responders not to answer, and vacation replies not to fire.
    msg["Auto-Submitted"] = "auto-generated"
    return msg


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
) -> EmailMessage:
    subject = renderer.phrase(language, "confirm_subject", list=list_title)
    context = {
        "list_title": list_title,
        "first_name": first_name,
        "confirm_url": confirm_url,
        "expires_days": expires_days,
    }
    msg = _base(sender, to, subject, message_id)
    msg.set_content(renderer.text("email/confirm.txt", language, **context))
    msg.add_alternative(renderer.html("email/confirm.html", language, **context), subtype="html")
    return msg


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
) -> EmailMessage:
    subject = renderer.phrase(language, "welcome_subject", list=list_title)
    context = {"list_title": list_title, "first_name": first_name, "unsubscribe_url": unsubscribe_url}
    msg = _base(sender, to, subject, message_id)
    # RFC 8058 one-click: mailbox providers POST "List-Unsubscribe=One-Click" to this URL.
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(renderer.text("email/welcome.txt", language, **context))
    msg.add_alternative(renderer.html("email/welcome.html", language, **context), subtype="html")
    return msg
