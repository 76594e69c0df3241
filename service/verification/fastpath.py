"""Warm-cache fast path: reuse the domain half of a verdict for the next address at that domain.

Everything in a verdict except the local part depends only on the domain and the form's policy
(syntax of the domain, DNS, lists, typo suggestion). For a plain ASCII address whose local part is
not a role account, the verdict is the remembered domain half plus the local part, valid until the
earliest DNS answer behind it expires. This is what makes bulk runs and busy forms cheap.

The domain may be internationalised (``ann@bücher.de``): a half is only ever found under the
exact domain text of an address the full check accepted, so the fast path never judges a domain
it has not seen, and the local part it pairs it with is a plain ASCII dot-atom.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from service.verification.lists import role_kind
from service.verification.syntax import SIMPLE_ADDRESS
from service.verification.transit import encoded_word_in
from service.verification.verdict import Decision, Policy, Status, Verdict

# SIMPLE_ADDRESS's local part; any domain text without spaces, quotes, brackets or a second @.
FAST_ADDRESS = re.compile(SIMPLE_ADDRESS.pattern.rpartition("@")[0] + r'@([^\s@"()<>\[\],:;\\]+)')


@dataclass(frozen=True, slots=True)
class DomainHalf:
    policy: Policy
    expires: float
    domain: str
    ascii_length: int
    status: Status
    decision: Decision
    reasons: tuple[str, ...]
    flags: frozenset[str]
    suggestion_domain: str | None
    message: str


class FastPath:
    """Remembered domain halves, keyed by the domain as typed and the policy object."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._halves: dict[tuple[str, int], DomainHalf] = {}

    def lookup(self, address: str, policy: Policy, started: float) -> Verdict | None:
        match = FAST_ADDRESS.fullmatch(address)
        if match is None:
            return None
        local, domain = match.groups()
        half = self._halves.get((domain, id(policy)))
        if half is None or half.policy is not policy or half.expires <= time.monotonic():
            return None
        if len(local) > 64 or len(local) + 1 + half.ascii_length > 254 or role_kind(local) is not None:
            return None
        if encoded_word_in(local):
            return None  # refused by the syntax check, which the slow path runs
        suggestion = f"{local}@{half.suggestion_domain}" if half.suggestion_domain else None
        return Verdict.quick(
            address,
            f"{local}@{half.domain}",
            half.status,
            half.decision,
            half.reasons,
            half.flags,
            suggestion,
            f"Did you mean {suggestion}?" if suggestion else half.message,
            (time.perf_counter() - started) * 1000,
            half.domain,
        )

    def remember(
        self, address: str, policy: Policy, verdict: Verdict, ascii_domain: str, expires: float
    ) -> None:
        match = FAST_ADDRESS.fullmatch(address)
        if match is None or verdict.domain is None or expires <= time.monotonic():
            return
        local, domain = match.groups()
        if role_kind(local) is not None:
            return  # a role account's verdict depends on its local part
        key = (domain, id(policy))
        if key not in self._halves and len(self._halves) >= self.max_entries:
            del self._halves[next(iter(self._halves))]
        self._halves[key] = DomainHalf(
            policy=policy,
            expires=expires,
            domain=verdict.domain,
            ascii_length=len(ascii_domain),
            status=verdict.status,
            decision=verdict.decision,
            reasons=verdict.reasons,
            flags=verdict.flags,
            suggestion_domain=verdict.suggestion.rpartition("@")[2] if verdict.suggestion else None,
            message=verdict.message,
        )
