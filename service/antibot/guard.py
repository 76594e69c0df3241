"""Issuing and checking the anti-bot proofs; :class:`AntiBotGuard` is a ``SignupGuard``."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import parse_qs

from altcha.v1 import SHA256, ChallengeOptions, create_challenge, verify_solution
from itsdangerous import BadSignature, URLSafeSerializer

from service.antibot.policy import AntiBotPolicy
from service.antibot.pressure import note_refusal
from service.errors import InputError
from service.numbers import whole_number
from service.store import Transaction

if TYPE_CHECKING:
    from altcha.v1 import PayloadType

    from service.settings import FormSettings, Settings
    from service.signup import SignupRequest

HONEYPOT_FIELD = "optin_hp"
FILL_FIELD = "optin_ts"
ALTCHA_FIELD = "altcha"
ALGORITHM = SHA256
MAX_PAYLOAD_CHARS = 2000

REFUSED = "this signup looks automated and was not accepted"
RELOAD = "this form could not be checked: reload the page and send it again"
TOO_FAST = "that was too fast: wait a few seconds and send the form again"
EXPIRED = "this form has been open too long: reload the page and send it again"
REUSED = "this anti-robot proof was already used: send the form again"
REUSED_FILL = "this form was already sent once: reload the page and send it again"
T = TypeVar("T")


class GuardStore(Protocol):
    """What the guard needs of the store: claims (single use) and counters (refusals)."""

    async def write(self, operation: Callable[[Transaction], T]) -> T: ...


def policy_of(form: FormSettings, overrides: Mapping[str, AntiBotPolicy] | None = None) -> AntiBotPolicy:
    """The form's policy: an explicit override, else ``form.antibot`` (settings), else defaults."""
    if overrides and form.id in overrides:
        return overrides[form.id]
    policy = getattr(form, "antibot", None)
    return policy if isinstance(policy, AntiBotPolicy) else AntiBotPolicy()


class Challenges:
    """Signs fill-time tokens and ALTCHA challenges with keys derived from the server secret.

    Nothing is kept in memory: any instance sharing ``secret_key`` issues and checks the same
    proofs, before and after a restart.
    """

    def __init__(self, secret_key: str) -> None:
        secret = secret_key.encode()
        self.altcha_key = hmac.new(secret, b"optin/antibot/altcha/v1", hashlib.sha256).hexdigest()
        self._fill = URLSafeSerializer(secret_key, salt="optin.antibot.fill-time")

    @classmethod
    def from_settings(cls, settings: Settings) -> Challenges:
        return cls(settings.server.secret_key)

    def issue(
        self, form_id: str, policy: AntiBotPolicy, now: float | None = None, max_number: int | None = None
    ) -> dict[str, Any]:
        """What the widget needs: a fresh ALTCHA challenge and a signed fill-time token.

        ``max_number`` overrides the policy's range (adaptive difficulty); each token carries a
        random nonce, so two drawn in the same millisecond are still two single-use tokens.
        """
        now = time.time() if now is None else now
        body: dict[str, Any] = {
            "honeypot": HONEYPOT_FIELD if policy.honeypot else None,
            "fill_field": FILL_FIELD,
            "fill_token": None,
            "min_fill_ms": int(policy.min_fill_seconds * 1000) if policy.fill_time else 0,
            "altcha_field": ALTCHA_FIELD,
            "altcha": None,
            "expires_in": int(policy.max_age_seconds),
        }
        if policy.fill_time:
            body["fill_token"] = self._fill.dumps(
                {"f": form_id, "t": int(now * 1000), "n": secrets.token_urlsafe(9)}
            )
        if policy.altcha:
            expires = datetime.datetime.fromtimestamp(now + policy.max_age_seconds, tz=datetime.UTC)
            options = ChallengeOptions(
                algorithm=ALGORITHM,
                max_number=max_number or policy.altcha_max_number,
                hmac_key=self.altcha_key,
                expires=expires,
                params={"form": form_id},
            )
            challenge = create_challenge(options)
            body["altcha"] = {
                "algorithm": challenge.algorithm,
                "challenge": challenge.challenge,
                "maxnumber": challenge.max_number,
                "salt": challenge.salt,
                "signature": challenge.signature,
            }
        return body

    def fill_age(self, form_id: str, token: object, now: float | None = None) -> float:
        """Seconds since the token was issued for this form; InputError if it is not ours."""
        now = time.time() if now is None else now
        if not isinstance(token, str) or not token or len(token) > MAX_PAYLOAD_CHARS:
            raise InputError(RELOAD, field=FILL_FIELD, status=400)
        try:
            data = self._fill.loads(token)
        except BadSignature:
            raise InputError(RELOAD, field=FILL_FIELD, status=400) from None
        if not isinstance(data, dict) or data.get("f") != form_id or not isinstance(data.get("t"), int):
            raise InputError(RELOAD, field=FILL_FIELD, status=400)
        return now - int(data["t"]) / 1000.0

    def solution(self, form_id: str, raw: object) -> tuple[str, float]:
        """Check an ALTCHA payload; (its single-use key, seconds it stays valid) if genuine."""
        payload = _decode_payload(raw)
        ok, _error = verify_solution(payload, self.altcha_key, check_expires=True)
        params = parse_qs(payload["salt"].partition("?")[2])
        if not ok:
            expires = params.get("expires", ["0"])[0]
            if (at := whole_number(expires)) is not None and at < time.time():
                raise InputError(EXPIRED, field=ALTCHA_FIELD, status=400)
            raise InputError(RELOAD, field=ALTCHA_FIELD, status=400)
        if params.get("form") != [form_id]:
            raise InputError(RELOAD, field=ALTCHA_FIELD, status=400)
        expires_at = float(params.get("expires", ["0"])[0])
        return "altcha:" + payload["signature"], max(expires_at - time.time(), 0.0) + 60.0


def _decode_payload(raw: object) -> PayloadType:
    """The widget sends base64(JSON); a JSON body may also carry the object itself."""
    data: object = raw
    if isinstance(raw, str):
        if not raw or len(raw) > MAX_PAYLOAD_CHARS:
            raise InputError(RELOAD, field=ALTCHA_FIELD, status=400)
        try:
            data = json.loads(base64.b64decode(raw, validate=True).decode())
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):  # "[[[…": too deep
            raise InputError(RELOAD, field=ALTCHA_FIELD, status=400) from None
    if not isinstance(data, dict):
        raise InputError(RELOAD, field=ALTCHA_FIELD, status=400)
    number = data.get("number")
    shape_ok = (
        data.get("algorithm") == ALGORITHM
        and isinstance(number, int)
        and not isinstance(number, bool)
        and number >= 0
        and all(isinstance(data.get(k), str) for k in ("challenge", "salt", "signature"))
    )
    if not shape_ok:
        raise InputError(RELOAD, field=ALTCHA_FIELD, status=400)
    return cast("PayloadType", data)


def honeypot_empty(value: object) -> bool:
    """Only absent, ``null`` or ``""`` is empty: a person never types into the hidden field, while
    a bot filling every field may send ``false``, ``0`` or a space."""
    return value is None or value == ""


def fill_key(token: str) -> str:
    """The single-use key of a fill-time token."""
    return "fill:" + hashlib.sha256(token.encode()).hexdigest()


class AntiBotGuard:
    """Refuses a signup that fails any defence its form's policy turns on.

    Order: honeypot, fill time, then the ALTCHA proof. The proof and the fill-time token are
    spent together (claimed in the shared store) only when everything before passed: each
    works for one signup. Every refusal but an expired form counts against the client's address
    and network (:mod:`service.antibot.pressure`), which raises the difficulty of its next
    challenges.
    """

    def __init__(
        self,
        challenges: Challenges,
        store: GuardStore,
        policies: Mapping[str, AntiBotPolicy] | None = None,
    ) -> None:
        self.challenges = challenges
        self.store = store
        self.policies = dict(policies or {})

    @classmethod
    def from_settings(
        cls, settings: Settings, store: GuardStore, policies: Mapping[str, AntiBotPolicy] | None = None
    ) -> AntiBotGuard:
        return cls(Challenges.from_settings(settings), store, policies)

    def policy(self, form: FormSettings) -> AntiBotPolicy:
        return policy_of(form, self.policies)

    async def check(self, form: FormSettings, request: SignupRequest) -> None:
        if request.source == "hook":
            # A forwarded submission comes from a server that proved the form's hook secret;
            # the contact form it came from ran its own spam checks on the visitor.
            return
        try:
            await self._check(self.policy(form), form.id, request.fields)
        except InputError as exc:
            if exc.message != EXPIRED and request.ip:
                ip, now = request.ip, time.time()
                await self.store.write(lambda tx: note_refusal(tx, ip, now))
            raise

    async def _check(self, policy: AntiBotPolicy, form_id: str, fields: Mapping[str, Any]) -> None:
        # The fields' documented types hold even when a defence is off (see /openapi.json).
        for name, kinds in ((FILL_FIELD, str), (ALTCHA_FIELD, (str, dict))):
            if fields.get(name) is not None and not isinstance(fields.get(name), kinds):
                raise InputError(RELOAD, field=name, status=400)
        if policy.honeypot and not honeypot_empty(fields.get(HONEYPOT_FIELD)):
            raise InputError(REFUSED, field=HONEYPOT_FIELD, status=400)
        claims: list[tuple[str, float, str, str]] = []  # key, ttl, message, field
        if policy.fill_time:
            token = fields.get(FILL_FIELD)
            age = self.challenges.fill_age(form_id, token)
            if age < policy.min_fill_seconds:
                raise InputError(TOO_FAST, field=FILL_FIELD, status=400)
            if age > policy.max_age_seconds:
                raise InputError(EXPIRED, field=FILL_FIELD, status=400)
            claims.append((fill_key(str(token)), policy.max_age_seconds + 60.0, REUSED_FILL, FILL_FIELD))
        if policy.altcha:
            key, ttl = self.challenges.solution(form_id, fields.get(ALTCHA_FIELD))
            claims.insert(0, (key, ttl, REUSED, ALTCHA_FIELD))
        if not claims:
            return
        now = time.time()
        fresh = await self.store.write(
            lambda tx: [tx.claim_once(k, now + ttl, now) for k, ttl, _, _ in claims]
        )
        for ok, (_, _, message, field) in zip(fresh, claims, strict=True):
            if not ok:
                raise InputError(message, field=field, status=400)
