"""One batch of verified rows against our list, in one transaction: the import policy decides, the
ledger records, the outbox gets the list updates (or the confirmation emails).

Nobody who unsubscribed from the form or was erased is added back, whatever the policy: their
mailbox (tags, dots at Gmail …, see service.mailbox) and the keyed hash of their address are
checked. With ``write=False`` (``--dry-run``) the same decisions are taken and nothing is kept.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from service import jobs
from service.ledger import iso
from service.limits import address_hash, allow_confirmation_email, budget_key
from service.mail.compose import new_message_id
from service.mailbox import mailbox_key
from service.settings import LANGUAGES, FormSettings, LimitSettings
from service.store import ConsentEvent, ContactRow, NewJob, Transaction
from service.store import imports as sql

Policy = Literal["add_update", "add_only", "update_only"]
POLICIES: tuple[Policy, ...] = ("add_update", "add_only", "update_only")
Outcome = Literal["added", "updated", "unchanged", "asked", "not_imported"]


@dataclass(frozen=True)
class Candidate:
    """A row that passed verification: the address as verification stored it, and its data."""

    row: int
    typed: str
    email: str
    first_name: str | None
    last_name: str | None
    language: str | None
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """What every row of an import shares."""

    name: str
    form: FormSettings
    connector: str
    policy: Policy
    permission: str
    reconfirm: bool
    sha256: str
    file: str
    by: str
    secret: str
    limits: LimitSettings
    sender: str
    run_id: int | None
    day_of_cycle: int | None = None
    email_spacing: float = 0.6  # seconds between two confirmation emails of an import


@dataclass
class Decided:
    outcome: Outcome
    reason: str = ""  # why a row was not imported or left unchanged, in words


@dataclass
class Pace:
    """When the next confirmation email of this import may go (paced, not all at once)."""

    next_at: float = 0.0


def _language(requested: str | None, form: FormSettings) -> str:
    code = (requested or "").strip().lower()[:2]
    return code if code in LANGUAGES else form.language


def _detail(b: Batch, c: Candidate, **extra: object) -> str:
    """The ledger's record of an import: which file (its SHA-256), which row, who, under what policy."""
    record: dict[str, object] = {
        "import": b.name,
        "file": b.file,
        "file_sha256": b.sha256,
        "row": c.row,
        "by": b.by,
        "policy": b.policy,
        "form": b.form.id,
    }
    if b.run_id is not None:
        record["run"] = b.run_id
    if c.fields:
        record["fields"] = dict(c.fields)
    if b.reconfirm:
        record["reconfirm"] = True
    record.update(extra)
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def _list_job(b: Batch, contact_id: int, at: float) -> NewJob | None:
    if b.connector == "builtin":
        return None
    return jobs.import_upsert(contact_id, b.connector, b.policy, f"{b.run_id or int(at)}", b.day_of_cycle)


def decide_batch(
    tx: Transaction,
    b: Batch,
    rows: Sequence[Candidate],
    unsubscribed: frozenset[str],
    pace: Pace,
    now: float,
    *,
    write: bool,
) -> list[Decided]:
    """Each row's outcome; with ``write`` its contact, ledger line and jobs are written too."""
    existing = sql.contacts_by_email(tx, b.form.id, (c.email for c in rows))
    return [_one(tx, b, c, existing.get(c.email), unsubscribed, pace, now, write) for c in rows]


def _one(
    tx: Transaction,
    b: Batch,
    c: Candidate,
    contact: ContactRow | None,
    unsubscribed: frozenset[str],
    pace: Pace,
    now: float,
    write: bool,
) -> Decided:
    key = mailbox_key(c.email)
    if sql.erased(tx, (address_hash(b.secret, c.email), address_hash(b.secret, key))):
        return Decided(
            "not_imported", "this address was erased at the person's request; an import never adds it back"
        )
    if contact is not None and contact.status == "unsubscribed":
        return Decided(
            "not_imported",
            f"unsubscribed from this list on {iso(contact.unsubscribed_at) or 'an earlier date'};"
            " an import never subscribes anyone again",
        )
    if key in unsubscribed:
        return Decided(
            "not_imported",
            "the same mailbox unsubscribed from this list under another spelling; an import never"
            " subscribes anyone again",
        )
    if contact is None and b.policy == "update_only":
        return Decided("unchanged", "not on the list; not added (policy update_only)")
    if contact is not None and b.policy == "add_only":
        return Decided(
            "unchanged", f"already on the list ({contact.status}); left unchanged (policy add_only)"
        )
    if b.reconfirm:
        return _reconfirm(tx, b, c, contact, pace, now, write)
    event = ConsentEvent("import", now, consent_text=b.permission, detail=_detail(b, c))
    language = _language(c.language, b.form)
    if contact is None:
        if write:
            contact_id = tx.insert_contact(
                b.form.id, c.email, c.first_name, c.last_name, language, now, confirmed=True
            )
            tx.add_event(contact_id, event)
            if job := _list_job(b, contact_id, now):
                tx.enqueue(job, now)
        return Decided("added")
    if write:
        sql.update_contact(tx, contact, c.first_name, c.last_name, c.language and language, True, now)
        tx.add_event(contact.id, event)
        if job := _list_job(b, contact.id, now):
            tx.enqueue(job, now)
    return Decided("updated")


def _reconfirm(
    tx: Transaction,
    b: Batch,
    c: Candidate,
    contact: ContactRow | None,
    pace: Pace,
    now: float,
    write: bool,
) -> Decided:
    """A double opt-in email instead of a confirmed contact, within the inbox's email budget."""
    if contact is not None and contact.status == "confirmed":
        return Decided("unchanged", "already confirmed; not asked again")
    language = _language(c.language, b.form)
    if not write:
        return Decided("asked")
    if contact is None:
        contact_id = tx.insert_contact(
            b.form.id, c.email, c.first_name, c.last_name, language, now, confirmed=False
        )
    else:
        contact_id = contact.id
        sql.update_contact(tx, contact, c.first_name, c.last_name, c.language and language, False, now)
    event = ConsentEvent("import", now, consent_text=b.permission, detail=_detail(b, c))
    if not allow_confirmation_email(tx, b.limits, budget_key(b.secret, c.email), now):
        withheld = _detail(b, c, email="withheld_by_budget")
        tx.add_event(contact_id, ConsentEvent("import", now, consent_text=b.permission, detail=withheld))
        return Decided(
            "not_imported",
            "not asked to confirm: this inbox had a confirmation email recently (the per-address"
            " budget); it will not be emailed again so soon",
        )
    tx.add_event(contact_id, event)
    token_id = secrets.token_urlsafe(18)
    tx.add_confirmation(token_id, contact_id, now)
    pace.next_at = max(pace.next_at, now)
    tx.enqueue(
        jobs.confirmation_email(contact_id, token_id, new_message_id(b.sender)), now, run_at=pace.next_at
    )
    pace.next_at += b.email_spacing
    return Decided("asked")
