"""The verifier: runs each check on one address and turns the findings into a Verdict."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import idna

from service.verification import lists, typo
from service.verification.config import VerifierConfig
from service.verification.decision import decide, message
from service.verification.dnscheck import DnsChecker, MailDomain, is_routable
from service.verification.fastpath import FastPath
from service.verification.syntax import Parsed, check_syntax
from service.verification.verdict import Policy, Status, Verdict

if TYPE_CHECKING:
    from service.verification.probe import ProbeResult

log = logging.getLogger(__name__)

_DEFAULT_POLICY = Policy()


@lru_cache(maxsize=4096)
def _unicode(domain: str) -> str:
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError):
        return domain


_NOT_CHECKED = MailDomain("unknown", "dns_not_checked")
_INTERNAL_FLAGS = frozenset({"quoted_local_part", "domain_literal"})
_NO_FLAGS: frozenset[str] = frozenset()


@dataclass(eq=False)
class _Step:
    """One verification in progress: the findings gathered before and after DNS."""

    address: str
    parsed: Parsed
    flags: set[str]
    reasons: list[str]
    known_typo: bool = False
    lookalike: bool = False  # on a disposable list, but one slip away from a big provider
    probe: ProbeResult | None = None


class Verifier:
    """Holds what verification needs across calls: the DNS checker with its caches, the config.

    ``dns_trusted`` is False while the resolver fails for well-known domains too
    (service.verification.dnshealth): then "this domain has no mail server" means nothing, and
    such findings become ``unknown`` rather than refusing every address.
    """

    dns_trusted = True

    def __init__(self, config: VerifierConfig | None = None) -> None:
        self.config = config or VerifierConfig()
        c = self.config
        self.dns = DnsChecker(
            c.nameservers,
            timeout=c.dns_timeout,
            negative_ttl=c.negative_ttl,
            max_ttl=c.max_ttl,
            max_mx_hosts=c.max_mx_hosts,
            cache_size=c.cache_size,
            allow_private=c.allow_private_mx,
        )
        self._fast = FastPath(c.cache_size)

    def forget_dns(self) -> None:
        self.dns.forget()
        self._fast = FastPath(self.config.cache_size)

    def _trusted(self, mail: MailDomain) -> MailDomain:
        if self.dns_trusted or mail.status != "undeliverable":
            return mail
        return MailDomain("unknown", "dns_unreliable")

    async def aclose(self) -> None:
        """Nothing to release today (dnspython opens a socket per query); kept for the interface."""

    async def verify(self, address: str, policy: Policy | None = None) -> Verdict:
        """Check one address; never raises, and never takes much longer than ``config.deadline``."""
        started = time.perf_counter()
        policy = policy or _DEFAULT_POLICY
        try:
            step = self._attempt(address, policy, started)
            if isinstance(step, Verdict):
                return step
            mail = self._cached_mail(step, policy)
            if mail is None:
                mail = await self._mail(step.parsed.ascii_domain, started)
            mail = self._trusted(mail)
            if self.config.probe and mail.status == "ok":
                await self._probe(step, mail)
            candidate = self._candidate(step, mail, policy)
            target = None
            if candidate and self._needs_target(step, candidate, policy):
                target = self.dns.cached(candidate) or await self._mail(candidate, started)
            return self._finish(step, policy, mail, candidate, target, started)
        except Exception:  # a bug must not turn a signup into an error page
            log.exception("verification of %r failed", address)
            return self._internal_error(address, policy, started)

    def verify_cached(self, address: str, policy: Policy | None = None) -> Verdict | None:
        """The verdict when no network I/O is needed (warm caches, syntax errors), else None.

        Bulk verification and the endpoint use it to skip the event loop round trip.
        """
        started = time.perf_counter()
        policy = policy or _DEFAULT_POLICY
        try:
            result = self._attempt(address, policy, started)
        except Exception:
            log.exception("verification of %r failed", address)
            return self._internal_error(address, policy, started)
        return result if isinstance(result, Verdict) else None

    def _attempt(self, address: str, policy: Policy, started: float) -> Verdict | _Step:
        """The verdict from what is known without I/O, else the prepared step to continue with I/O."""
        probe = self.config.probe
        if not probe:
            fast = self._fast.lookup(address, policy, started)
            if fast is not None:
                return fast
        step = self._prepare(address, policy, started)
        if isinstance(step, Verdict):
            return step
        mail = self._cached_mail(step, policy)
        if mail is None or (probe and mail.status == "ok"):
            return step
        mail = self._trusted(mail)
        candidate = self._candidate(step, mail, policy)
        target = None
        if candidate and self._needs_target(step, candidate, policy):
            target = self.dns.cached(candidate)
            if target is None:
                return step
        verdict = self._finish(step, policy, mail, candidate, target, started)
        if not probe:
            expires = min(
                mail.expires if policy.check_dns else math.inf, target.expires if target else math.inf
            )
            self._fast.remember(address, policy, verdict, step.parsed.ascii_domain, expires)
        return verdict

    def _internal_error(self, address: str, policy: Policy, started: float) -> Verdict:
        return Verdict(
            input=address,
            normalized=None,
            status="unknown",
            decision="reject" if policy.reject_unknown else "accept",
            reasons=("internal_error",),
            message="We could not check this address right now.",
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    async def _mail(self, ascii_domain: str, started: float) -> MailDomain:
        remaining = self.config.deadline - (time.perf_counter() - started)
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                return await self.dns.check(ascii_domain)
        except TimeoutError:
            return MailDomain("unknown", "dns_deadline")

    def _cached_mail(self, step: _Step, policy: Policy) -> MailDomain | None:
        if not policy.check_dns:
            return _NOT_CHECKED
        return self.dns.cached(step.parsed.ascii_domain)

    def _prepare(self, address: str, policy: Policy, started: float) -> Verdict | _Step:
        """Everything before DNS: syntax, what the policy refuses outright, the lists."""
        parsed = check_syntax(address)
        if parsed.error or parsed.normalized is None:
            return self._syntax_failure(address, parsed, policy, started)
        step = _Step(address, parsed, set(parsed.flags), [])
        flags = step.flags
        refusal = (
            "quoted_local_part"
            if "quoted_local_part" in flags and not policy.allow_quoted_local_part
            else "domain_literal"
            if "domain_literal" in flags and not policy.allow_domain_literal
            else "smtputf8_not_allowed"
            if "smtputf8" in flags and not policy.allow_smtputf8
            else None
        )
        if refusal:
            step.reasons.append(refusal)
            return self._verdict(step, policy, "undeliverable", None, started)
        if "domain_literal" in flags:
            ip = parsed.domain.strip("[]").removeprefix("IPv6:")
            step.reasons.append("domain_literal")
            return self._verdict(
                step, policy, "unknown" if is_routable(ip) else "undeliverable", None, started
            )
        domain = parsed.ascii_domain
        c = self.config
        if lists.is_disposable(domain, extra_block=c.disposable_blocklist, allow=c.disposable_allowlist):
            if domain not in c.disposable_blocklist and typo.resembles_provider(domain):
                # A lookalike of a big provider (cmail.com, gotmail.com) that lists call
                # disposable: a person who mistyped, or who really has that address. Never a
                # reject for that alone: the suggestion warns, DNS still decides.
                step.lookalike = True
                step.reasons.append("lookalike")
            else:
                flags.add("disposable")
                step.reasons.append("disposable")
        role = lists.role_kind(parsed.local)
        if role:
            flags.add("role")
            step.reasons.append(f"role_{role}")
        if lists.is_free(domain):
            flags.add("free")
        return step

    def _candidate(self, step: _Step, mail: MailDomain, policy: Policy) -> str | None:
        """The domain to suggest, if the typed one deserves a suggestion; checked by ``_finish``."""
        domain = step.parsed.ascii_domain
        known = typo.is_known_typo(domain)
        if not (known or step.lookalike or mail.status == "undeliverable" or not lists.is_known_tld(domain)):
            return None
        candidate = typo.suggest_domain(domain)
        if candidate is None or candidate == domain:
            return None
        step.known_typo = known
        return candidate

    @staticmethod
    def _needs_target(step: _Step, candidate: str | None, policy: Policy) -> bool:
        """Whether the suggested domain must be looked up (we never suggest a dead domain)."""
        return bool(candidate) and policy.check_dns and not step.known_typo

    def _finish(
        self,
        step: _Step,
        policy: Policy,
        mail: MailDomain,
        candidate: str | None,
        target: MailDomain | None,
        started: float,
    ) -> Verdict:
        reasons = step.reasons
        if mail.status == "undeliverable":
            status: Status = "undeliverable"
            reasons.insert(0, mail.reason)
        elif mail.status == "unknown":
            status = "unknown"
            reasons.insert(0, mail.reason)
        else:
            status = "risky" if "disposable" in step.flags else "deliverable"
            if mail.reason == "a_fallback":
                reasons.append("a_fallback")
            if step.probe is not None:
                status = self._apply_probe(step, status)
        suggestion = None
        if candidate and (target is None or target.status != "undeliverable"):
            suggestion = f"{step.parsed.local}@{_unicode(candidate)}"
            reasons.append("typo")
        return self._verdict(step, policy, status, suggestion, started)

    async def _probe(self, step: _Step, mail: MailDomain) -> None:
        from service.verification.probe import probe_mailbox

        step.probe = await probe_mailbox(step.parsed.local, step.parsed.ascii_domain, mail, self.config)

    def _apply_probe(self, step: _Step, status: Status) -> Status:
        result = step.probe
        assert result is not None
        step.reasons.append(result.reason)
        if result.outcome == "rejected":
            return "undeliverable"
        if result.outcome == "catch_all":
            step.flags.add("catch_all")
            return "risky"
        if result.outcome == "unknown":
            return "unknown" if status == "deliverable" else status
        return status

    def _syntax_failure(self, address: str, parsed: Parsed, policy: Policy, started: float) -> Verdict:
        suggestion = None
        if parsed.error == "domain_without_dot" and "@" in address:
            local, _, domain = address.strip().rpartition("@")
            fixed = typo.suggest_domain(domain.lower())
            if fixed and local:
                suggestion = f"{local}@{fixed}"
        message = f"Did you mean {suggestion}?" if suggestion else parsed.message  # a likely typo
        return Verdict(
            input=address,
            normalized=None,
            status="undeliverable",
            decision="reject" if policy.reject_undeliverable else "warn",
            reasons=(parsed.error or "invalid",),
            suggestion=suggestion,
            message=message,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def _verdict(
        self, step: _Step, policy: Policy, status: Status, suggestion: str | None, started: float
    ) -> Verdict:
        flags = frozenset(step.flags - _INTERNAL_FLAGS) if step.flags else _NO_FLAGS
        reasons = tuple(step.reasons)
        parsed = step.parsed
        return Verdict(
            input=step.address,
            normalized=parsed.normalized,
            status=status,
            decision=decide(policy, status, flags, reasons, suggestion is not None),
            reasons=reasons,
            flags=flags,
            suggestion=suggestion,
            message=message(status, reasons, parsed.domain, suggestion),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            domain=parsed.domain,
        )
