"""Per-connector health, kept in the store so every instance (and the CLI) sees the same thing.

After every call to a list connector the outcome is folded into its ``connector_health`` row in
one transaction: last success, last failure with the ESP's own message, consecutive failed calls,
dead letters and any rate-limit pause. In that same transaction, a connector that starts
dead-lettering or is down gets an ``alert_email`` job for the site owner, at most one per
connector per hour (``last_alert_at`` is in the row, so a restart or a second instance does not
send another). Rate limiting (429) pauses a connector but does not count towards "down".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from service import jobs
from service.ledger import iso
from service.mail.compose import new_message_id
from service.store import Store, Transaction
from service.store.records import ConnectorHealth

log = logging.getLogger("optin.connectors")

State = Literal["ok", "failing", "down"]
DOWN_AFTER_FAILURES = 5  # consecutive failed calls
DOWN_AFTER_SECONDS = 15 * 60.0  # failing without a single success for this long


def state_of(health: ConnectorHealth, now: float) -> State:
    failing = health.consecutive_failures > 0
    if failing and (
        health.consecutive_failures >= DOWN_AFTER_FAILURES
        or (health.failing_since is not None and now - health.failing_since >= DOWN_AFTER_SECONDS)
    ):
        return "down"
    last_failed = health.last_failure_at is not None and (
        health.last_success_at is None or health.last_failure_at > health.last_success_at
    )
    return "failing" if failing or last_failed else "ok"


@dataclass(frozen=True)
class CallOutcome:
    """What one call to a connector (one job, or one batch) came to."""

    succeeded: int = 0
    success: str | None = None  # the last success, in words
    failure: str | None = None  # the last failure: the ESP's own message
    failed_call: bool = False  # the call failed as a whole (counts towards "down")
    throttled: bool = False  # every failure was a rate limit: a pause, not an outage
    dead: int = 0  # jobs this call dead-lettered
    pause_until: float | None = None


class HealthBook:
    """Records outcomes and decides on alerts; the alert itself is an outbox job (same Mailer)."""

    def __init__(self, store: Store, owner_email: str, sender: str) -> None:
        self.store = store
        self.owner_email = owner_email
        self.sender = sender

    async def record(self, connector: str, outcome: CallOutcome, now: float | None = None) -> str | None:
        """Fold ``outcome`` into the connector's row; returns the alert reason if one was raised."""
        at = time.time() if now is None else now
        message_id = new_message_id(self.sender)
        reason = await self.store.write(lambda tx: self._apply(tx, connector, outcome, at, message_id))
        if reason:
            where = f"emailed to {self.owner_email}" if self.owner_email else "no server.owner_email to email"
            log.warning("connector %s: %s — %s (%s)", connector, reason, outcome.failure, where)
        return reason

    def _apply(
        self, tx: Transaction, connector: str, o: CallOutcome, now: float, message_id: str
    ) -> str | None:
        tx.lock(f"health:{connector}")  # every worker's outcomes count, none overwrites another's
        h = tx.connector_health(connector) or ConnectorHealth(connector)
        if o.succeeded:
            h.last_success_at, h.last_success = now, o.success
        if o.failure is not None:
            h.last_failure_at, h.last_failure = now, o.failure
        if o.failed_call and not o.throttled:
            h.consecutive_failures += 1
            h.failing_since = h.failing_since or now
        elif o.succeeded:
            h.consecutive_failures, h.failing_since = 0, None
        h.dead_letters += o.dead
        if o.pause_until is not None and o.pause_until > (h.paused_until or 0):
            h.paused_until = o.pause_until
            # Jobs waiting in the queue keep their attempts and wait for the reset (every instance).
            tx.hold_connector_jobs(connector, jobs.CONNECTOR_KINDS, o.pause_until, now)
        reason = None
        if o.dead:
            reason = f"{o.dead} contact(s) could not be added and were set aside (dead letters)"
        elif state_of(h, now) == "down":
            reason = f"down: {h.consecutive_failures} failed calls in a row since {iso(h.failing_since)}"
        if reason and (h.last_alert_at is None or now - h.last_alert_at >= jobs.ALERT_PERIOD):
            h.last_alert_at = now
            if self.owner_email:
                tx.enqueue(jobs.alert_email(connector, now, reason, o.failure or "", message_id), now)
        else:
            reason = None
        h.updated_at = now
        tx.save_connector_health(h)
        return reason


def describe(health: ConnectorHealth, now: float) -> dict[str, Any]:
    paused = health.paused_until if health.paused_until and health.paused_until > now else None
    return {
        "state": state_of(health, now),
        "last_success_at": iso(health.last_success_at),
        "last_success": health.last_success,
        "last_failure_at": iso(health.last_failure_at),
        "last_failure": health.last_failure,
        "consecutive_failures": health.consecutive_failures,
        "dead_letters": health.dead_letters,
        "paused_until": iso(paused),
        "last_alert_at": iso(health.last_alert_at),
    }


async def connectors_health(store: Store, names: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every connector's health for /healthz; ``names`` adds configured ones not used yet ("ok")."""
    now = time.time()
    rows = {h.connector: h for h in await store.connector_healths()}
    for name in names:
        rows.setdefault(name, ConnectorHealth(name))
    return {name: describe(rows[name], now) for name in sorted(rows)}
