"""Reading a contact's consent ledger: the latest event of a kind, and times as people read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from service.limits import network_of
from service.store import ConsentEvent
from service.store.records import link_actor

__all__ = ["iso", "latest", "link_actor", "moment"]


def recorded_ip(ip: str | None, truncate: bool) -> str | None:
    """The IP kept as consent evidence; truncated to its network when the owner asks for it."""
    if not ip or not truncate:
        return ip
    return network_of(ip) or ip


def latest(events: Sequence[ConsentEvent], kind: str) -> ConsentEvent | None:
    """The most recent ``kind`` event (a contact may sign up again after leaving)."""
    return next((e for e in reversed(events) if e.event == kind), None)


def moment(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def iso(stamp: float | None) -> str | None:
    when = moment(stamp)
    return when.isoformat(timespec="seconds") if when else None
