"""The owner's daily digest: yesterday's signups and confirmations per form, and what needs attention.

The worker role queues one ``digest_email`` job a day, from ``admin.digest_hour`` (UTC), with
the day as its idempotency key: every replica may try, one job is queued, one email is sent. The
figures are read when the job runs, so a retried digest still tells the whole day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import TYPE_CHECKING, Any

from service import jobs
from service.connectors.status import connectors_health
from service.mail.compose import new_message_id
from service.render import Renderer
from service.settings import Settings
from service.store import Job, Store
from service.store.reports import DAY, Reports

if TYPE_CHECKING:
    from service.delivery import Delivery

log = logging.getLogger("optin.digest")
CHECK_EVERY = 600.0  # seconds between two looks at the clock
STUCK_AFTER = 3600.0  # a due job older than this is worth a line


@dataclass(frozen=True)
class FormDay:
    form_id: str
    signups: int
    confirmations: int
    unsubscribes: int


def digest_day(now: float, hour: int) -> str | None:
    """The day whose digest is due at ``now``: yesterday, once the digest hour has come."""
    moment = datetime.fromtimestamp(now, UTC)
    if moment.hour < hour:
        return None
    return (moment.date() - timedelta(days=1)).isoformat()


async def figures(store: Store, settings: Settings, day: str, now: float) -> dict[str, Any]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp()
    reports = Reports(store)
    try:
        rows = await reports.daily(start, start + DAY)
        depth = await reports.outbox_depth(now)
    finally:
        await reports.aclose()
    forms = {f: FormDay(f, 0, 0, 0) for f in settings.forms}
    for row in rows:
        old = forms.get(row.form_id, FormDay(row.form_id, 0, 0, 0))
        forms[row.form_id] = FormDay(
            row.form_id, old.signups + row.signups, old.confirmations + row.confirmations,
            old.unsubscribes + row.unsubscribes,
        )  # fmt: skip
    attention = []
    if depth.dead:
        attention.append(f"{depth.dead} job(s) are dead in the outbox (see the admin's Outbox page).")
    if depth.oldest_due_at is not None and now - depth.oldest_due_at > STUCK_AFTER:
        hours = (now - depth.oldest_due_at) / 3600
        attention.append(f"The oldest waiting job has been due for {hours:.1f} h: is a worker running?")
    for name, health in (await connectors_health(store, tuple(settings.connectors))).items():
        if health["state"] != "ok":
            failure = health["last_failure"] or "no message"
            attention.append(f"List connector {name} is {health['state']}: {failure}")
    return {"day": day, "forms": sorted(forms.values(), key=lambda f: f.form_id), "attention": attention}


def digest_email(
    renderer: Renderer, *, sender: str, to: str, public_url: str, message_id: str, context: dict[str, Any]
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    flag = " — needs attention" if context["attention"] else ""
    msg["Subject"] = f"[optin] {context['day']}: signups and confirmations{flag}"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a report
    msg.set_content(renderer.text("email/digest.txt", "en", public_url=public_url, **context))
    msg.add_alternative(
        renderer.html("email/digest.html", "en", public_url=public_url, **context), subtype="html"
    )
    return msg


async def send_digest(delivery: Delivery, job: Job) -> str:
    settings = delivery.settings
    owner = settings.server.owner_email
    if not owner:
        return "not sent: no server.owner_email is configured"
    context = await figures(delivery.store, settings, str(job.payload["day"]), time.time())
    message = digest_email(
        delivery.renderer,
        sender=settings.smtp.sender,
        to=owner,
        public_url=settings.server.public_url,
        message_id=str(job.payload["message_id"]),
        context=context,
    )
    return await delivery.mailer.send(message, parseaddr(owner)[1] or owner)


async def queue_digest(store: Store, settings: Settings, now: float) -> bool:
    """Queue the due digest unless it already is (here or on another replica); True if queued."""
    day = digest_day(now, settings.admin.digest_hour)
    if day is None:
        return False
    job = jobs.digest_email(day, new_message_id(settings.smtp.sender))
    queued = await store.write(lambda tx: tx.enqueue(job, now))
    if queued:
        log.info("the daily digest of %s is queued for %s", day, settings.server.owner_email)
    return queued


async def digest_every(store: Store, settings: Settings, wake: Any, interval: float = CHECK_EVERY) -> None:
    """The worker role's clock for the digest (only when admin.daily_digest is on)."""
    while True:
        with contextlib.suppress(Exception):
            if await queue_digest(store, settings, time.time()):
                wake()
        await asyncio.sleep(interval)
