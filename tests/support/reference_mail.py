"""The way optin built its emails before service.mail.mime, kept as the reference to compare with.

An ``EmailMessage`` with optin's mail policy, the same headers set one by one, ``set_content``
for the text and ``add_alternative`` for the HTML: what the new MIME writer must read back as
(tests/deliverability/test_mime.py), and what the mail bench's plain aiosmtplib loop sends.
"""

from __future__ import annotations

from email.message import EmailMessage

from service.mail.headers import MAIL_POLICY
from service.mail.mime import Email


def as_email_message(email: Email) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    for name, value in email.headers:
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message
