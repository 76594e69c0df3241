"""Telling list connectors about contacts, one job at a time or a batch of them.

Around each call: a connector paused by a rate limit is not called (the job is deferred until the
reset, without using an attempt), and the outcome is recorded in the connector's health, which
may raise an alert (:mod:`service.connectors.status`). A 429 with a reset time pauses the whole
connector, in this process and, through the store, for the jobs waiting in the queue.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from service import jobs, metrics
from service.connectors.base import BatchConnector, Connector, Consent, Contact, ListTarget, SyncResult
from service.connectors.status import CallOutcome, HealthBook
from service.errors import DeliveryError
from service.form_fields import as_text
from service.ledger import latest, moment
from service.outbox import BatchGroup, Deferred, Outcome, gives_up
from service.settings import FormSettings, OutboxSettings
from service.store import ConsentEvent, ContactRow, Job, Store

log = logging.getLogger("optin.connectors")


def list_targets(form: FormSettings | None, contact: ContactRow, connector: str) -> tuple[ListTarget, ...]:
    """The lists ``contact`` chose that live at ``connector``, as that ESP names them."""
    if form is None:
        return ()
    return tuple(
        ListTarget(spec.name, spec.tag, spec.interest, spec.list_id)
        for spec in form.lists
        if spec.name in contact.lists and spec.connector == connector
    )


def _imported_fields(event: ConsentEvent | None) -> dict[str, str]:
    """The custom fields an import recorded in its ledger line (service.imports.apply)."""
    try:
        record = json.loads(event.detail or "") if event else {}
    except ValueError:
        return {}
    fields = record.get("fields") if isinstance(record, dict) else None
    return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}


def list_contact(
    contact: ContactRow, events: Sequence[ConsentEvent], lists: tuple[ListTarget, ...] = ()
) -> Contact:
    """A contact as a list sees it, with the proof of consent from its ledger (a signup and its
    confirmation, or an import holding the owner's statement of permission)."""
    signup, confirmation = latest(events, "signup"), latest(events, "confirmation")
    imported = latest(events, "import")
    consent = None
    if signup is None and imported is not None and contact.status == "confirmed":
        consent = Consent(
            signed_up_at=datetime.fromtimestamp(imported.at, UTC),
            ip=None,
            user_agent=None,
            page_url=None,
            consent_text=imported.consent_text,
            confirmed_at=moment(contact.confirmed_at),
        )
    elif signup is not None:
        consent = Consent(
            signed_up_at=datetime.fromtimestamp(signup.at, UTC),
            ip=signup.ip,
            user_agent=signup.user_agent,
            page_url=signup.page_url,
            consent_text=signup.consent_text,
            confirmed_at=moment(confirmation.at if confirmation else None),
            confirmed_ip=confirmation.ip if confirmation else None,
        )
    return Contact(
        email=contact.email,
        form_id=contact.form_id,
        language=contact.language,
        first_name=contact.first_name,
        last_name=contact.last_name,
        consent=consent,
        # The form's own fields as the visitor gave them; an import's mapped columns fill the rest.
        fields={
            **_imported_fields(imported),
            **{name: as_text(value) for name, value in contact.fields.items()},
        },
        lists=lists,
    )


def note(result: SyncResult) -> str:
    return result.detail + (f" (id {result.remote_id})" if result.remote_id else "")


class ListSync:
    def __init__(
        self,
        store: Store,
        connectors: Mapping[str, Connector],
        outbox: OutboxSettings,
        health: HealthBook,
        forms: Mapping[str, FormSettings] | None = None,
    ) -> None:
        self.store = store
        self.forms = forms or {}
        self.connectors = connectors
        self.outbox = outbox
        self.health = health
        self._paused: dict[str, float] = {}  # connector -> end of its rate-limit pause
        self._views: dict[tuple[object, ...], Connector] = {}  # a connector under an import's policy

    def _connector(self, job: Job) -> tuple[str, Connector]:
        name = str(job.payload["connector"])
        connector = self.connectors.get(name)
        if connector is None:
            raise DeliveryError(f"no connector named {name!r} is configured any more", permanent=True)
        until = self._paused.get(name, 0.0)
        if until > time.time():
            raise Deferred(until, f"{name} is rate-limited; waiting for its reset")
        return name, self._as_asked(connector, job)

    def _as_asked(self, connector: Connector, job: Job) -> Connector:
        """The connector under the job's own import policy (and GetResponse day), when the job
        carries one: an import's policy may differ from the connector's. Same client, same limits."""
        changes = {k: job.payload[k] for k in ("policy", "day_of_cycle") if k in job.payload}
        changes = {k: v for k, v in changes.items() if hasattr(connector, k) and getattr(connector, k) != v}
        if not changes:
            return connector
        key = (connector.name, *sorted(changes.items()))
        view = self._views.get(key)
        if view is None:
            view = copy.copy(connector)
            for attribute, value in changes.items():
                setattr(view, attribute, value)
            self._views[key] = view
        return view

    async def _contacts(self, rows: Sequence[ContactRow], connector: str) -> list[Contact]:
        events = await self.store.events_by_contact(r.id for r in rows)
        return [
            list_contact(
                row, events.get(row.id, []), list_targets(self.forms.get(row.form_id), row, connector)
            )
            for row in rows
        ]

    def batch_group(self, job: Job) -> BatchGroup | None:
        if job.kind != jobs.CONNECTOR_UPSERT:
            return None
        name = str(job.payload.get("connector"))
        connector = self.connectors.get(name)
        if isinstance(connector, BatchConnector) and connector.max_batch >= 2:
            return BatchGroup(job.kind, name, connector.max_batch)
        return None

    async def run_one(self, job: Job, contact: ContactRow) -> str:
        name, connector = self._connector(job)
        if job.kind == jobs.CONNECTOR_UPSERT and contact.status != "confirmed":
            return f"not sent: the contact is {contact.status}"
        [item] = await self._contacts([contact], name)
        try:
            if job.kind == jobs.CONNECTOR_UPSERT:
                result = await connector.upsert(item, idempotency_key=job.idempotency_key)
            else:
                result = await connector.unsubscribe(item, idempotency_key=job.idempotency_key)
        except DeliveryError as exc:
            await self._record(name, [job], [exc], failed_call=True)
            raise
        await self._record(name, [job], [result], failed_call=False)
        return note(result)

    async def run_batch(self, batch: Sequence[Job]) -> list[Outcome]:
        """One ``upsert_many`` call per policy for the jobs whose contact is (still) confirmed."""
        groups: dict[tuple[object, object], list[int]] = {}
        for i, job in enumerate(batch):
            groups.setdefault((job.payload.get("policy"), job.payload.get("day_of_cycle")), []).append(i)
        if len(groups) == 1:
            return await self._run_batch(batch)
        outcomes: list[Outcome] = [""] * len(batch)
        for indexes in groups.values():
            for i, outcome in zip(indexes, await self._run_batch([batch[i] for i in indexes]), strict=True):
                outcomes[i] = outcome
        return outcomes

    async def _run_batch(self, batch: Sequence[Job]) -> list[Outcome]:
        name, connector = self._connector(batch[0])
        if not isinstance(connector, BatchConnector):
            raise DeliveryError(f"{name} has no batch endpoint", permanent=False)
        rows = await self.store.contacts_by_id(int(j.payload["contact_id"]) for j in batch)
        outcomes: list[Outcome] = []
        sending: list[int] = []
        for i, job in enumerate(batch):
            row = rows.get(int(job.payload["contact_id"]))
            if row is None:
                outcomes.append("the contact no longer exists; nothing to do")
            elif row.status != "confirmed":
                outcomes.append(f"not sent: the contact is {row.status}")
            else:
                outcomes.append("")
                sending.append(i)
        if not sending:
            return outcomes
        contacts = await self._contacts([rows[int(batch[i].payload["contact_id"])] for i in sending], name)
        jobs_sent = [batch[i] for i in sending]
        items = [(c, j.idempotency_key) for c, j in zip(contacts, jobs_sent, strict=True)]
        results: list[SyncResult | DeliveryError]
        failed_call = False
        try:
            results = list(await connector.upsert_many(items))
            if len(results) != len(items):
                raise DeliveryError(f"{name} answered for {len(results)} of {len(items)} contacts")
        except DeliveryError as exc:  # the whole call failed: it applies to every job in it
            results, failed_call = [exc] * len(items), True
        await self._record(name, jobs_sent, results, failed_call=failed_call)
        for i, result in zip(sending, results, strict=True):
            outcomes[i] = result if isinstance(result, DeliveryError) else note(result)
        return outcomes

    async def _record(
        self,
        name: str,
        sent: Sequence[Job],
        results: Sequence[SyncResult | DeliveryError],
        *,
        failed_call: bool,
    ) -> None:
        now = time.time()
        errors = [(job, r) for job, r in zip(sent, results, strict=True) if isinstance(r, DeliveryError)]
        done = [r for r in results if isinstance(r, SyncResult)]
        waits = [e.retry_after for _, e in errors if e.retry_after is not None and not e.permanent]
        pause_until = now + min(max(waits), self.outbox.max_delay) if waits else None
        if pause_until is not None:
            self._paused[name] = max(self._paused.get(name, 0.0), pause_until)
        outcome = CallOutcome(
            succeeded=len(done),
            success=done[-1].detail if done else None,
            failure=errors[-1][1].detail if errors else None,
            failed_call=failed_call,
            throttled=bool(errors) and all(e.code == 429 for _, e in errors),
            dead=sum(1 for job, e in errors if gives_up(job, e.permanent, self.outbox)),
            pause_until=pause_until,
        )
        metrics.connector_call(name, len(done), len(errors), failed_call, outcome.throttled)
        try:
            await self.health.record(name, outcome, now)
        except Exception:  # the job's own outcome matters more than the bookkeeping
            log.exception("could not record the health of connector %s", name)
