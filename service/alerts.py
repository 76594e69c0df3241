"""The email that tells the site owner a list connector is failing. Pure: templates in, message out.

The ESP's message is the remote's text: the HTML part escapes it (the renderer autoescapes) and
the subject never carries it, so nothing the ESP says can shape the email's headers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from service.render import Renderer


def alert_email(
    renderer: Renderer,
    *,
    sender: str,
    to: str,
    connector: str,
    reason: str,
    detail: str,
    at: float,
    status: dict[str, Any],
    public_url: str,
    message_id: str,
) -> EmailMessage:
    context = {
        "connector": connector,
        "reason": reason,
        "detail": detail or "(no message)",
        "when": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "status": status,
        "public_url": public_url,
    }
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"[optin] list connector {connector!r} needs attention"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to an alert
    msg.set_content(renderer.text("email/alert.txt", "en", **context))
    msg.add_alternative(renderer.html("email/alert.html", "en", **context), subtype="html")
    return msg


def import_alert_email(
    renderer: Renderer,
    *,
    sender: str,
    to: str,
    name: str,
    reason: str,
    at: float,
    public_url: str,
    message_id: str,
) -> EmailMessage:
    """The email that tells the owner a recurring import's source failed (the reason escaped in HTML)."""
    context = {
        "name": name,
        "reason": reason,
        "when": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "public_url": public_url,
    }
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"[optin] import {name!r} failed"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(renderer.text("email/import_alert.txt", "en", **context))
    msg.add_alternative(renderer.html("email/import_alert.html", "en", **context), subtype="html")
    return msg
