"""Reading a contact's consent ledger: the latest event of a kind, and times as people read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from service.store import ConsentEvent


def latest(events: Sequence[ConsentEvent], kind: str) -> ConsentEvent | None:
    """The most recent ``kind`` event (a contact may sign up again after leaving)."""
    return next((e for e in reversed(events) if e.event == kind), None)


def moment(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def iso(stamp: float | None) -> str | None:
    when = moment(stamp)
    return when.isoformat(timespec="seconds") if when else None


def link_actor(method: str, outcome: str) -> str:
    """Who was at a confirmation link, from what its page recorded: ``person`` (pressed the
    button with the page's nonce, after the dwell time), ``scanner`` (HEAD, or a press without
    the nonce or too fast), or ``page_view`` (a GET: a person or a scanner)."""
    if method == "POST" and outcome in ("confirmed", "already_confirmed"):
        return "person"
    if method == "HEAD" or (method == "POST" and outcome in ("missing_nonce", "bad_nonce", "too_fast")):
        return "scanner"
    return "page_view" if method == "GET" else "other"
