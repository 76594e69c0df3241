"""The verification result and the per-form policy that turns it into a decision."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from service.errors import ConfigError

Status = Literal["deliverable", "undeliverable", "risky", "unknown"]
Decision = Literal["accept", "warn", "reject"]

STATUSES: tuple[Status, ...] = get_args(Status)
DECISIONS: tuple[Decision, ...] = get_args(Decision)


@dataclass(frozen=True)
class Policy:
    """What a form does with each kind of verdict.

    Defaults follow the product's design: reject undeliverable and disposable addresses, warn on
    role accounts and on typos, accept when a lookup could not finish (never lose a real person to
    a slow DNS server). Every field is a plain boolean so a ``[forms.NAME.verification]`` TOML table
    maps onto it one to one (see :meth:`from_mapping`).
    """

    reject_undeliverable: bool = True
    reject_disposable: bool = True
    warn_role: bool = True
    reject_role_hard: bool = False
    reject_unknown: bool = False
    warn_unknown: bool = False
    warn_risky: bool = True
    warn_free: bool = False
    check_dns: bool = True
    allow_smtputf8: bool = True
    allow_quoted_local_part: bool = False
    allow_domain_literal: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from a settings table; unknown keys or non-booleans raise ConfigError."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"verification policy must be a table, not {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        problems: list[str] = []
        values: dict[str, bool] = {}
        for key, value in data.items():
            if key not in known:
                problems.append(
                    f"unknown verification setting {key!r}; expected one of: {', '.join(sorted(known))}"
                )
            elif not isinstance(value, bool):
                problems.append(
                    f"verification setting {key!r} must be true or false, not {type(value).__name__} "
                    f"{value!r}"
                )
            else:
                values[key] = value
        if problems:
            raise ConfigError(problems)
        return cls(**values)


@dataclass(frozen=True)
class Verdict:
    """Everything we learned about one address."""

    input: str
    normalized: str | None
    status: Status
    decision: Decision
    reasons: tuple[str, ...] = ()
    flags: frozenset[str] = field(default_factory=frozenset)
    suggestion: str | None = None
    message: str = ""
    elapsed_ms: float = 0.0
    domain: str | None = None

    @classmethod
    def quick(
        cls,
        input: str,
        normalized: str | None,
        status: Status,
        decision: Decision,
        reasons: tuple[str, ...],
        flags: frozenset[str],
        suggestion: str | None,
        message: str,
        elapsed_ms: float,
        domain: str | None,
    ) -> Verdict:
        """The same object as ``Verdict(...)``, built several times faster: the warm-cache path of a
        bulk run builds one per address, and a frozen dataclass's ``__init__`` sets each field
        through ``object.__setattr__``. Fields are stored exactly as ``__init__`` stores them."""
        verdict = object.__new__(cls)
        verdict.__dict__.update(
            input=input,
            normalized=normalized,
            status=status,
            decision=decision,
            reasons=reasons,
            flags=flags,
            suggestion=suggestion,
            message=message,
            elapsed_ms=elapsed_ms,
            domain=domain,
        )
        return verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "normalized": self.normalized,
            "status": self.status,
            "decision": self.decision,
            "reasons": list(self.reasons),
            "flags": sorted(self.flags),
            "suggestion": self.suggestion,
            "message": self.message,
            "elapsed_ms": round(self.elapsed_ms, 2),
        }
