"""The kinds of outbox job and their idempotency keys. Pure.

A key names the *work*, not the attempt: enqueueing the same work twice is a no-op, and a
webhook's ``webhook-id`` is the key so receivers can drop a redelivery.
"""

from __future__ import annotations

from service.store import NewJob

CONFIRMATION_EMAIL = "confirmation_email"
WELCOME_EMAIL = "welcome_email"
CONNECTOR_UPSERT = "connector_upsert"
CONNECTOR_UNSUBSCRIBE = "connector_unsubscribe"
ALERT_EMAIL = "alert_email"
REMINDER = "reminder"  # decides, when due, whether a pending contact gets its one reminder
REMINDER_EMAIL = "reminder_email"
DIGEST_EMAIL = "digest_email"
IMPORT_ALERT_EMAIL = "import_alert_email"
EMAIL_KINDS = (
    CONFIRMATION_EMAIL,
    WELCOME_EMAIL,
    ALERT_EMAIL,
    REMINDER,
    REMINDER_EMAIL,
    DIGEST_EMAIL,
    IMPORT_ALERT_EMAIL,
)
CONNECTOR_KINDS = (CONNECTOR_UPSERT, CONNECTOR_UNSUBSCRIBE)
ALERT_PERIOD = 3600.0  # seconds: at most one alert per connector per period


def _with_code(payload: dict[str, object], sealed_code: str | None) -> dict[str, object]:
    """``sealed_code``: the email's code, sealed (service.codes); None for an email without one."""
    return {**payload, "code": sealed_code} if sealed_code else payload


def confirmation_email(
    contact_id: int,
    token_id: str,
    message_id: str,
    sealed_code: str | None = None,
    adds_lists: tuple[str, ...] | None = None,
) -> NewJob:
    """``adds_lists``: the email asks a confirmed contact to confirm these further lists."""
    payload: dict[str, object] = {"contact_id": contact_id, "token_id": token_id, "message_id": message_id}
    if adds_lists is not None:
        payload["adds_lists"] = list(adds_lists)
    return NewJob(CONFIRMATION_EMAIL, f"confirmation-email:{token_id}", _with_code(payload, sealed_code))


def reminder(contact_id: int, token_id: str, sealed_code: str | None) -> NewJob:
    """Queued with the confirmation, to run when the reminder is due: one per confirmation email."""
    payload = {"contact_id": contact_id, "token_id": token_id}
    return NewJob(REMINDER, f"reminder:{token_id}", _with_code(payload, sealed_code))


def reminder_email(contact_id: int, token_id: str, message_id: str, sealed_code: str | None) -> NewJob:
    payload = {"contact_id": contact_id, "token_id": token_id, "message_id": message_id}
    return NewJob(REMINDER_EMAIL, f"reminder-email:{token_id}", _with_code(payload, sealed_code))


def welcome_email(contact_id: int, token_id: str, message_id: str) -> NewJob:
    return NewJob(
        WELCOME_EMAIL, f"welcome-email:{token_id}", {"contact_id": contact_id, "message_id": message_id}
    )


def connector_upsert(contact_id: int, connector: str, token_id: str) -> NewJob:
    return NewJob(
        CONNECTOR_UPSERT, f"upsert:{connector}:{token_id}", {"contact_id": contact_id, "connector": connector}
    )


def import_upsert(
    contact_id: int, connector: str, policy: str, run: str, day_of_cycle: int | None = None
) -> NewJob:
    """A contact an import brought in, for the list: the import's policy travels with the job (it
    may differ from the connector's own), and so does a GetResponse autoresponder day."""
    payload: dict[str, object] = {"contact_id": contact_id, "connector": connector, "policy": policy}
    if day_of_cycle is not None:
        payload["day_of_cycle"] = day_of_cycle
    return NewJob(CONNECTOR_UPSERT, f"import:{connector}:{run}:{contact_id}", payload)


def connector_unsubscribe(contact_id: int, connector: str, at: float) -> NewJob:
    return NewJob(
        CONNECTOR_UNSUBSCRIBE,
        f"unsubscribe:{connector}:{contact_id}:{int(at * 1000)}",
        {"contact_id": contact_id, "connector": connector},
    )


def import_alert_email(name: str, at: float, reason: str, message_id: str) -> NewJob:
    """An email to the site owner about a recurring import whose source fails; one per import per hour."""
    return NewJob(
        IMPORT_ALERT_EMAIL,
        f"import-alert:{name}:{int(at // ALERT_PERIOD)}",
        {"import": name, "at": at, "reason": reason, "message_id": message_id},
    )


def alert_email(connector: str, at: float, reason: str, detail: str, message_id: str) -> NewJob:
    """An email to the site owner about a failing connector; one key per connector per hour."""
    return NewJob(
        ALERT_EMAIL,
        f"alert:{connector}:{int(at // ALERT_PERIOD)}",
        {"connector": connector, "at": at, "reason": reason, "detail": detail, "message_id": message_id},
    )


def digest_email(day: str, message_id: str) -> NewJob:
    """The owner's daily digest of ``day`` (YYYY-MM-DD, UTC): one key per day, so replicas that
    each schedule it queue it once."""
    return NewJob(DIGEST_EMAIL, f"digest:{day}", {"day": day, "message_id": message_id})
