"""What a click on an emailed link does: confirm, offer a fresh link, or unsubscribe.

Reading a link (``inspect``) never changes anything, because mail scanners fetch links; only
the POST behind the page's button calls ``confirm`` or ``unsubscribe``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from service import jobs, metrics
from service.errors import TokenError, TokenExpired
from service.ledger import recorded_ip
from service.limits import allow_confirmation_email, budget_key
from service.mail.compose import new_message_id
from service.settings import FormSettings, Settings
from service.store import ConsentEvent, ContactRow, Store, Transaction
from service.tokens import Tokens, UnsubscribeClaim

# "withheld": a fresh link was asked for, but the address's email budget is spent.
# Why an unsubscribe link changes nothing: not ours (or expired), or it names nobody any more.
LinkRefusal = Literal["invalid", "no_longer_valid"]
LinkState = Literal[
    "valid", "confirmed", "already_confirmed", "expired", "invalid", "unsubscribed", "withheld"
]
DAY = 86_400.0


def _ua(user_agent: str | None) -> str | None:
    return (user_agent or "")[:500] or None


@dataclass(frozen=True)
class LinkInfo:
    state: LinkState
    language: str = "en"
    form: FormSettings | None = None
    nonce: str = ""  # for a "valid" link: what the page's button must send back
    notice: str = ""  # why the button has to be pressed again
    adds: tuple[str, ...] = ()  # the lists a confirmed contact's link adds

    @property
    def list_title(self) -> str:
        if self.form is None:
            return ""
        return (self.adds and self.form.labels_of(self.adds, self.language)) or self.form.title_in(
            self.language
        )


Found = tuple[ContactRow | None, float | None, tuple[str, ...] | None]


def link_state(contact: ContactRow, used_at: float | None, adds: tuple[str, ...] | None) -> LinkState:
    """What confirming would do: a first signup's link confirms a pending contact; a link that adds
    lists, a contact still confirmed. Once used, or once there is nothing left to do, it is done."""
    if adds is None:
        return "already_confirmed" if contact.status == "confirmed" or used_at is not None else "valid"
    if used_at is not None:
        return "already_confirmed"
    return "valid" if contact.status == "confirmed" else "invalid"  # unsubscribed since


def may_resend(contact: ContactRow, used_at: float | None, adds: tuple[str, ...] | None) -> bool:
    """Whether a fresh email for this confirmation still asks for something: a first signup's
    contact still pending (not one who left since), or lists not yet added to a confirmed one."""
    if adds is None:
        return contact.status == "pending"
    return contact.status == "confirmed" and used_at is None


@dataclass(frozen=True)
class Visit:
    """Who is at a link: the evidence kept about every fetch and click."""

    method: str
    ip: str | None
    user_agent: str | None


class Confirmations:
    def __init__(self, settings: Settings, store: Store, tokens: Tokens, wake: Callable[[], None]) -> None:
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.wake = wake
        self.max_age = settings.server.token_max_age_days * DAY

    def _info(
        self, state: LinkState, contact: ContactRow | None, adds: tuple[str, ...] | None = None
    ) -> LinkInfo:
        if contact is None or state == "invalid":
            return LinkInfo(state)
        return LinkInfo(state, contact.language, self.settings.forms.get(contact.form_id), adds=adds or ())

    @staticmethod
    def _lookup(tx: Transaction, token_id: str) -> Found:
        found = tx.confirmation(token_id)
        if found is None:
            return None, None, None
        return tx.contact(found[0]), found[1], found[2]

    async def inspect(self, token: str, visit: Visit) -> LinkInfo:
        """What a GET or HEAD shows; records the visit, changes nothing about the contact."""
        try:
            token_id = self.tokens.read_confirmation(token, self.max_age)
        except TokenExpired as exc:
            return await self._expired(exc)
        except TokenError:
            return LinkInfo("invalid")
        now = time.time()

        def look(tx: Transaction) -> Found:
            found = self._lookup(tx, token_id)
            if found[0] is not None:
                tx.add_link_event(token_id, now, visit.method, "shown", visit.ip, _ua(visit.user_agent))
            return found

        contact, used_at, adds = await self.store.write(look)
        if contact is None:
            return LinkInfo("invalid")
        metrics.link_visit(visit.method, "shown")
        state = link_state(contact, used_at, adds)
        if state != "valid":
            return self._info(state, contact, adds)
        return replace(self._info("valid", contact, adds), nonce=self.tokens.page_nonce(token_id))

    async def _expired(self, exc: TokenExpired) -> LinkInfo:
        token_id = exc.payload.get("t")
        if not isinstance(token_id, str):
            return LinkInfo("invalid")
        contact, used_at, adds = await self.store.read(lambda tx: self._lookup(tx, token_id))
        if contact is not None and link_state(contact, used_at, adds) != "valid":
            return self._info(link_state(contact, used_at, adds), contact, adds)
        return self._info("expired", contact, adds)

    def _page_age(self, nonce: str, token_id: str) -> tuple[float | None, str]:
        """Seconds since this link's page was shown, or why the click cannot count."""
        if not nonce:
            return None, "missing_nonce"
        try:
            shown_at = self.tokens.read_page_nonce(nonce, token_id, DAY)
        except TokenError:
            return None, "bad_nonce"
        age = time.time() - shown_at
        if age < self.settings.server.confirm_min_dwell_seconds:
            return age, "too_fast"
        return age, ""

    async def confirm(self, token: str, nonce: str, visit: Visit) -> LinkInfo:
        """The page's button. Confirms only with the page's nonce, after a human's dwell time."""
        try:
            token_id = self.tokens.read_confirmation(token, self.max_age)
        except TokenExpired as exc:
            return await self._expired(exc)
        except TokenError:
            return LinkInfo("invalid")
        age, refusal = self._page_age(nonce, token_id)
        now = time.time()
        welcome_id = new_message_id(self.settings.smtp.sender)
        ip = recorded_ip(visit.ip, self.settings.server.truncate_ips)
        event = ConsentEvent(
            "confirmation", now, ip=ip, user_agent=_ua(visit.user_agent), detail="method=link"
        )

        def record(tx: Transaction) -> LinkInfo:
            tx.lock(f"link:{token_id}")  # two clicks on two replicas: one confirms, one sees it done
            contact, used_at, adds = self._lookup(tx, token_id)
            if contact is None:
                return LinkInfo("invalid")
            state = link_state(contact, used_at, adds)
            if state != "valid":
                tx.add_link_event(token_id, now, visit.method, state, ip, _ua(visit.user_agent), age)
                return self._info(state, contact, adds)
            tx.add_link_event(
                token_id, now, visit.method, refusal or "confirmed", ip, _ua(visit.user_agent), age
            )
            if refusal:
                return replace(self._info("valid", contact, adds), notice=refusal)
            self.complete(tx, contact, token_id, event, welcome_id, adds)
            return self._info("confirmed", contact, adds)

        info = await self.store.write(record)
        metrics.confirm_pressed(visit.method, info.notice or info.state, info.form.id if info.form else None)
        if info.notice:
            return replace(info, nonce=self.tokens.page_nonce(token_id))
        self.wake()
        return info

    def complete(
        self,
        tx: Transaction,
        contact: ContactRow,
        token_id: str,
        event: ConsentEvent,
        welcome_id: str,
        adds: tuple[str, ...] | None = None,
    ) -> None:
        """Confirm ``contact`` through confirmation ``token_id`` (its link or its code): one commit
        with the evidence, the list updates and the welcome email. ``adds``: the confirmation adds
        these lists to a contact confirmed already (no welcome email: they have had it)."""
        now = event.at
        tx.use_confirmation(token_id, now)
        if adds is not None:
            self._add_lists(
                tx, contact, token_id, replace(event, detail=f"{event.detail} adds={','.join(adds)}"), adds
            )
            return
        tx.set_status(contact.id, "confirmed", now)
        tx.add_event(contact.id, event)
        form = self.settings.forms.get(contact.form_id)
        if form is None:
            return
        for connector in form.connectors_for(contact.lists):
            tx.enqueue(jobs.connector_upsert(contact.id, connector, token_id), now)
        if form.welcome_email:
            tx.enqueue(jobs.welcome_email(contact.id, token_id, welcome_id), now)

    def _add_lists(
        self, tx: Transaction, contact: ContactRow, token_id: str, event: ConsentEvent, adds: tuple[str, ...]
    ) -> None:
        now = event.at
        lists = contact.lists + tuple(name for name in adds if name not in contact.lists)
        tx.set_lists(contact.id, lists, now)
        tx.add_event(contact.id, event)
        form = self.settings.forms.get(contact.form_id)
        if form is None:
            return
        # Each ESP with a list just added hears of the contact again, with every list they are on.
        for connector in form.connectors_for(adds):
            tx.enqueue(jobs.connector_upsert(contact.id, connector, token_id), now)

    async def resend(self, token: str) -> LinkInfo:
        """A fresh confirmation email, at most once per old link, within the address's budget.

        Feeding each new link back must not flood an inbox: every fresh link spends the same
        per-inbox email budget as a signup, and past it nothing is sent ("withheld").
        """
        try:
            token_id = self.tokens.read_confirmation(token, self.max_age)
        except TokenExpired as exc:
            token_id = str(exc.payload.get("t", ""))
        except TokenError:
            return LinkInfo("invalid")
        # Derived, so pressing "send me a new link" twice cannot send two emails.
        secret = self.settings.server.secret_key.encode()
        fresh_id = hmac.new(secret, token_id.encode(), hashlib.sha256).hexdigest()[:24]
        message_id = new_message_id(self.settings.smtp.sender)
        now = time.time()

        def record(tx: Transaction) -> LinkInfo:
            contact, used_at, adds = self._lookup(tx, token_id)
            if contact is None:
                return LinkInfo("invalid")
            if not may_resend(contact, used_at, adds):
                state: LinkState = "unsubscribed" if contact.status == "unsubscribed" else "already_confirmed"
                return self._info(state, contact, adds)
            if tx.confirmation(fresh_id) is not None:
                return self._info("valid", contact, adds)  # already sent for this link
            budget = budget_key(self.settings.server.secret_key, contact.email)
            if not allow_confirmation_email(tx, self.settings.limits, budget, now):
                tx.add_event(
                    contact.id, ConsentEvent("resend_request", now, detail="email=withheld_by_budget")
                )
                return self._info("withheld", contact)
            tx.add_event(contact.id, ConsentEvent("resend_request", now, detail="email=queued"))
            tx.add_confirmation(fresh_id, contact.id, now, adds_lists=adds)
            tx.enqueue(jobs.confirmation_email(contact.id, fresh_id, message_id, adds_lists=adds), now)
            return self._info("valid", contact, adds)

        info = await self.store.write(record)
        self.wake()
        return info

    def _claim(self, token: str) -> UnsubscribeClaim | None:
        try:
            return self.tokens.read_unsubscribe(token, self.settings.server.unsubscribe_max_age_days * DAY)
        except TokenError:
            return None

    def _named(self, claim: UnsubscribeClaim, contact: ContactRow | None) -> ContactRow | LinkRefusal:
        """The contact the link was sent to, or why it no longer names anyone."""
        if contact is None:  # our link, but its contact was erased or purged
            return "no_longer_valid"
        if not self.tokens.names(claim, contact.form_id, contact.email, contact.created_at):
            return "no_longer_valid"  # the id now belongs to someone else
        return contact

    async def unsubscribe_target(self, token: str) -> ContactRow | LinkRefusal:
        """Who an unsubscribe link names (for its page); changes nothing."""
        claim = self._claim(token)
        if claim is None:
            return "invalid"
        return self._named(claim, await self.store.contact(claim.contact_id))

    async def unsubscribe(
        self, token: str, ip: str | None, user_agent: str | None
    ) -> ContactRow | LinkRefusal:
        claim = self._claim(token)
        if claim is None:
            return "invalid"
        now = time.time()
        event = ConsentEvent(
            "unsubscribe",
            now,
            ip=recorded_ip(ip, self.settings.server.truncate_ips),
            user_agent=_ua(user_agent),
        )

        def record(tx: Transaction) -> ContactRow | LinkRefusal:
            tx.lock(f"contact:{claim.contact_id}")
            contact = self._named(claim, tx.contact(claim.contact_id))
            if isinstance(contact, str) or contact.status == "unsubscribed":
                return contact
            tx.set_status(contact.id, "unsubscribed", now)
            tx.add_event(contact.id, event)
            form = self.settings.forms.get(contact.form_id)
            if form is not None and contact.status == "confirmed":
                for connector in form.connectors_for(contact.lists):
                    tx.enqueue(jobs.connector_unsubscribe(contact.id, connector, now), now)
            return contact

        contact = await self.store.write(record)
        if not isinstance(contact, str) and contact.status != "unsubscribed":  # it just left
            metrics.unsubscribed(contact.form_id)
        self.wake()
        return contact
