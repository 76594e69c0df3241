"""Confirming with a 6-digit code, without leaving the page.

A confirmation email carries a code beside its link; typed into the widget, it confirms exactly
as the link does (the same commit, the same evidence, ``method=code`` in the ledger). Codes are
random (``secrets``), single-use, expire with their link, and are kept only as a keyed hash
compared in constant time. A signup takes at most ``MAX_TRIES`` wrong codes, then a new email is
needed (within the address's email budget); wrong codes are also counted per client IP and
network, in the database, so guessing across many signups is slow on every instance.

The subscribe answer carries a *handle*: a signed, opaque name for that signup, which the code,
the status check and "send me a new email" are sent with. Every accepted signup gets one, whether
an email went out or not (the address is already on the list, or its inbox had its share of
email): a handle with no email behind it takes wrong codes and reaches its limit exactly as any
other, and never shows "confirmed", so neither the answers nor the handles tell a stranger who
is on a list. A forged handle and a wrong code look the same.

The email job needs the code to write it into the email; it carries it *sealed* (added to a pad
derived by HMAC from the server secret and the confirmation's unique id, a one-time pad), so the
database alone never reveals a code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from service import jobs
from service.confirmation import link_state, may_resend
from service.errors import InputError, TokenError
from service.ledger import recorded_ip
from service.limits import (
    BUCKET,
    allow_confirmation_email,
    budget_key,
    check_request,
    network_of,
    over_hourly,
)
from service.mail.compose import new_message_id
from service.settings import Settings
from service.store import ConsentEvent, Store, Transaction
from service.tokens import Tokens

if TYPE_CHECKING:
    from service.confirmation import Confirmations, Visit

log = logging.getLogger("optin.codes")

CODE_LENGTH = 6
MAX_TRIES = 5
HANDLE_V1 = "optin.signup.v1"  # itsdangerous-signed handles, still read
HANDLE_PREFIX = "s2."
HANDLE_KEY = b"optin.signup-handle.v2"
_SPACERS = re.compile(r"[\s\-‐‑‒–—.·]")
_DIGITS = re.compile(rf"[0-9]{{{CODE_LENGTH}}}")
_HANDLE_MAX_LENGTH = 400
_HANDLE = re.compile(r"s2\.([A-Za-z0-9_-]{1,64})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})")
DAY = 86_400.0

CodeState = Literal["confirmed", "wrong_code", "too_many_attempts", "expired"]
SignupState = Literal["pending", "confirmed", "expired"]


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def read_code(raw: object) -> str | None:
    """The code as typed or pasted ("123 456", "123-456", full-width digits), or None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = f"{raw:0{CODE_LENGTH}d}"
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    digits = "".join(str(int(c)) if c.isdecimal() else c for c in _SPACERS.sub("", raw))
    return digits if _DIGITS.fullmatch(digits) else None


class CodeKeys:
    """Keys derived from the server secret, one per use, so no value can stand in for another."""

    def __init__(self, secret: str) -> None:
        base = secret.encode()
        self._hash = hmac.new(base, b"optin.code-hash.v1", hashlib.sha256).digest()
        self._seal = hmac.new(base, b"optin.code-seal.v1", hashlib.sha256).digest()
        self._resend = hmac.new(base, b"optin.code-resend.v1", hashlib.sha256).digest()
        self._hasher = hmac.new(self._hash, digestmod=hashlib.sha256)
        self._sealer = hmac.new(self._seal, digestmod=hashlib.sha256)

    def digest(self, token_id: str, code: str) -> str:
        """The keyed hash kept for a code, bound to its confirmation."""
        keyed = self._hasher.copy()  # keyed once: a copy skips the key's set-up for each code
        keyed.update(f"{token_id}\0{code}".encode())
        return keyed.hexdigest()

    def matches(self, stored: str | None, token_id: str, code: str) -> bool:
        expected = self.digest(token_id, code)
        # Compared in constant time; a confirmation without a code is compared too, and fails.
        return hmac.compare_digest(stored or "0" * len(expected), expected) and stored is not None

    def _pad(self, token_id: str) -> int:
        keyed = self._sealer.copy()
        keyed.update(token_id.encode())
        stream = keyed.digest()
        pad: int = int.from_bytes(stream[:8], "big") % 10**CODE_LENGTH
        return pad

    def seal(self, token_id: str, code: str) -> str:
        return f"{(int(code) + self._pad(token_id)) % 10**CODE_LENGTH:0{CODE_LENGTH}d}"

    def unseal(self, token_id: str, sealed: str) -> str:
        return f"{(int(sealed) - self._pad(token_id)) % 10**CODE_LENGTH:0{CODE_LENGTH}d}"

    def fresh_id(self, token_id: str) -> str:
        """The confirmation a "new email" for ``token_id`` creates (asking twice sends one)."""
        return hmac.new(self._resend, token_id.encode(), hashlib.sha256).hexdigest()[:24]


@dataclass(frozen=True)
class Handle:
    token_id: str  # the confirmation this signup created, or an id with none behind it
    form_id: str
    issued_at: float


class Handles:
    """Signup handles: ``s2.<token id>.<issued, UNIX seconds>.<MAC>``.

    The MAC (HMAC-SHA256 under a key of its own derived from the server secret, 128 bits kept)
    covers the form, the token id and the time, so a handle is ours, names exactly one signup
    on exactly one form, and says when it was issued (callers refuse it past its age). One HMAC
    and no JSON, compression or base64 of a payload: every JSON subscribe answer signs one.
    Handles signed by itsdangerous before this format (``optin.signup.v1``) are still read.
    """

    def __init__(self, secret: str, tokens: Tokens) -> None:
        self.tokens = tokens
        key = hmac.new(secret.encode(), HANDLE_KEY, hashlib.sha256).digest()
        self._mac = hmac.new(key, digestmod=hashlib.sha256)  # keyed once; copied for each handle

    def _sign(self, form_id: str, token_id: str, issued: str) -> str:
        mac = self._mac.copy()
        mac.update(f"{form_id}\0{token_id}\0{issued}".encode())
        return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode("ascii")

    def issue(self, token_id: str, form_id: str, now: float) -> str:
        issued = str(int(now))
        return f"{HANDLE_PREFIX}{token_id}.{issued}.{self._sign(form_id, token_id, issued)}"

    def read(self, handle: object, form_id: str) -> Handle | None:
        """The handle's claim when it is ours and for this form; its age is checked by the caller."""
        if not isinstance(handle, str) or not handle or len(handle) > _HANDLE_MAX_LENGTH:
            return None
        if not handle.startswith(HANDLE_PREFIX):
            return self._read_v1(handle, form_id)
        found = _HANDLE.fullmatch(handle)
        if found is None:
            return None
        token_id, issued, mac = found.groups()
        if not hmac.compare_digest(mac, self._sign(form_id, token_id, issued)):
            return None
        return Handle(token_id, form_id, float(issued))

    def _read_v1(self, handle: str, form_id: str) -> Handle | None:
        try:
            claim = self.tokens.read(HANDLE_V1, handle, 3650 * DAY)
        except TokenError:
            return None
        token_id, form, issued = claim.get("t"), claim.get("f"), claim.get("at")
        if not isinstance(token_id, str) or form != form_id or not isinstance(issued, int | float):
            return None
        return Handle(token_id, form_id, float(issued))


@dataclass(frozen=True)
class CodeAnswer:
    state: CodeState
    tries_left: int = 0


def _over_code_limits(tx: Transaction, settings: Settings, ip: str | None, now: float) -> int | None:
    """Seconds to wait when this client made too many wrong codes lately, else None."""
    if not ip:
        return None
    limits = settings.limits
    keys = [(f"code-ip:{ip}", limits.code_tries_per_ip_hour)]
    if network := network_of(ip):
        keys.append((f"code-net:{network}", limits.code_tries_per_network_hour))
    tx.lock(*(key for key, limit in keys if limit > 0))
    waits = [w for key, limit in keys if (w := over_hourly(tx, key, limit, now)) is not None]
    return max(waits) if waits else None


def _count_ip_miss(tx: Transaction, settings: Settings, ip: str | None, now: float) -> None:
    if not ip:
        return
    limits = settings.limits
    if limits.code_tries_per_ip_hour > 0:
        tx.add_to_bucket(f"code-ip:{ip}", int(now // BUCKET))
    network = network_of(ip)
    if network and limits.code_tries_per_network_hour > 0:
        tx.add_to_bucket(f"code-net:{network}", int(now // BUCKET))


class SignupCodes:
    """The widget's side of a signup: a code typed in, "was it confirmed?", "send a new email"."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        tokens: Tokens,
        confirmations: Confirmations,
        wake: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.store = store
        self.confirmations = confirmations
        self.wake = wake
        self.clock = clock
        self.keys = CodeKeys(settings.server.secret_key)
        self.handles = Handles(settings.server.secret_key, tokens)
        self.max_age = settings.server.token_max_age_days * DAY

    async def submit(self, form_id: str, handle: object, raw_code: object, visit: Visit) -> CodeAnswer:
        code = read_code(raw_code)
        if code is None:  # a typo, not a guess: not counted
            raise InputError(f"please enter the {CODE_LENGTH}-digit code from the email", field="code")
        claim = self.handles.read(handle, form_id)
        now = self.clock()
        if claim is not None and now - claim.issued_at > self.max_age:
            return CodeAnswer("expired")
        # A forged handle is counted under its own name: it meets the limit like any other.
        name = claim.token_id if claim else "x" + hashlib.sha256(str(handle).encode()).hexdigest()[:32]
        ip = recorded_ip(visit.ip, self.settings.server.truncate_ips)
        user_agent = (visit.user_agent or "")[:500] or None
        event = ConsentEvent("confirmation", now, ip=ip, user_agent=user_agent, detail="method=code")
        welcome_id = new_message_id(self.settings.smtp.sender)

        def record(tx: Transaction) -> CodeAnswer:
            tx.lock(f"link:{name}")  # the same lock as the link's button: one of them confirms
            wait = _over_code_limits(tx, self.settings, visit.ip, now)
            if wait is not None:
                # The network only: the log says where guessing comes from without keeping an address.
                log.warning(
                    "too many wrong codes from %s: refused for %d s", network_of(visit.ip or ""), wait
                )
                minutes = max(1, -(-wait // 60))
                raise InputError(
                    f"too many wrong codes from your address; please try again in {minutes} minute(s)",
                    field="code",
                    status=429,
                    retry_after=wait,
                )
            row = tx.code_row(name) if claim else None
            if row is not None and row.created_at + self.max_age <= now:
                return CodeAnswer("expired")
            miss_key = f"code-miss:{name}"
            tries = row.attempts if row else tx.hit_windows(miss_key, (now - self.max_age,))[0][0]
            if tries >= MAX_TRIES:
                return CodeAnswer("too_many_attempts")
            contact = tx.contact(row.contact_id) if row else None
            if row is not None and contact is not None and self.keys.matches(row.code_hash, name, code):
                state = link_state(contact, row.used_at, row.adds_lists)
                if state != "valid":
                    tx.add_link_event(name, now, "code", state, ip, user_agent)
                else:
                    tx.add_link_event(name, now, "code", "confirmed", ip, user_agent)
                    self.confirmations.complete(tx, contact, name, event, welcome_id, row.adds_lists)
                return CodeAnswer("confirmed")
            _count_ip_miss(tx, self.settings, visit.ip, now)
            if row is not None:
                tries = tx.count_code_miss(name)
                tx.add_link_event(name, now, "code", "wrong_code", ip, user_agent)
            else:
                tx.add_hit(miss_key, now)
                tries += 1
            if tries >= MAX_TRIES:
                return CodeAnswer("too_many_attempts")
            return CodeAnswer("wrong_code", MAX_TRIES - tries)

        answer = await self.store.write(record)
        if answer.state == "confirmed":
            self.wake()
        return answer

    async def status(self, form_id: str, handle: object) -> SignupState:
        """Whether this signup's email was confirmed (here or from its link, in any tab)."""
        claim = self.handles.read(handle, form_id)
        if claim is None:
            return "pending"
        row = await self.store.read(lambda tx: tx.code_row(claim.token_id))
        if row is not None and row.used_at is not None:
            return "confirmed"
        return "expired" if self.clock() - claim.issued_at > self.max_age else "pending"

    async def resend(self, form_id: str, handle: object, ip: str | None) -> str:
        """A new email with a new code, once per handle, within the address's email budget.

        Answered the same whatever happened (sent, withheld by the budget, nobody pending): a
        fresh handle, which names the new email's code when there is one.
        """
        claim = self.handles.read(handle, form_id)
        if claim is None:
            raise InputError("this signup cannot be found; please sign up again", field="signup")
        now = self.clock()
        fresh = self.keys.fresh_id(claim.token_id)
        code = new_code()
        message_id = new_message_id(self.settings.smtp.sender)
        limits = self.settings.limits

        def record(tx: Transaction) -> bool:
            check_request(tx, limits, form_id, ip, now)
            row = tx.code_row(claim.token_id)
            if row is None or tx.code_row(fresh) is not None:
                return False
            contact = tx.contact(row.contact_id)
            if contact is None or not may_resend(contact, row.used_at, row.adds_lists):
                return False
            budget = budget_key(self.settings.server.secret_key, contact.email)
            if not allow_confirmation_email(tx, limits, budget, now):
                detail = "via=code email=withheld_by_budget"
                tx.add_event(contact.id, ConsentEvent("resend_request", now, detail=detail))
                return False
            tx.add_event(contact.id, ConsentEvent("resend_request", now, detail="via=code email=queued"))
            adds = row.adds_lists
            tx.add_confirmation(fresh, contact.id, now, self.keys.digest(fresh, code), adds_lists=adds)
            sealed = self.keys.seal(fresh, code)
            tx.enqueue(jobs.confirmation_email(contact.id, fresh, message_id, sealed, adds), now)
            return True

        if await self.store.write(record):
            self.wake()
        return self.handles.issue(fresh, form_id, now)


def public_answer(answer: CodeAnswer) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body of a code answer (see service.web.openapi)."""
    if answer.state == "confirmed":
        return 200, {"status": "confirmed", "message": "Thank you: your subscription is confirmed."}
    if answer.state == "expired":
        message = "this code has expired; ask for a new email"
        return 410, {"status": "expired", "error": message, "field": "code"}
    if answer.state == "too_many_attempts":
        message = "too many wrong codes for this signup; ask for a new email"
        return 409, {"status": "too_many_attempts", "error": message, "field": "code", "tries_left": 0}
    message = f"that code is not right; {answer.tries_left} tries left"
    return 422, {"status": "wrong_code", "error": message, "field": "code", "tries_left": answer.tries_left}
