"""What the doctor says: checks in words, each ✓, ⚠ or ✗ with the fix. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "warn", "fail"]
SYMBOLS: dict[Status, str] = {"ok": "✓", "warn": "⚠", "fail": "✗"}


@dataclass(frozen=True)
class Check:
    status: Status
    text: str
    fix: str = ""


def ok(text: str) -> Check:
    return Check("ok", text)


def warn(text: str, fix: str = "") -> Check:
    return Check("warn", text, fix)


def fail(text: str, fix: str = "") -> Check:
    return Check("fail", text, fix)


@dataclass
class Section:
    title: str
    checks: list[Check] = field(default_factory=list)


def render(sections: Iterable[Section]) -> str:
    lines = []
    for section in sections:
        lines.append(section.title)
        for check in section.checks:
            lines.append(f"  {SYMBOLS[check.status]} {check.text}")
            if check.fix:
                lines.append(f"      → {check.fix}")
        lines.append("")
    return "\n".join(lines)


def summary(sections: Iterable[Section]) -> tuple[int, int, int]:
    """How many checks passed, warned and failed."""
    checks = [c for s in sections for c in s.checks]
    return tuple(sum(c.status == status for c in checks) for status in ("ok", "warn", "fail"))  # type: ignore[return-value]


def exit_code(sections: Iterable[Section]) -> int:
    return 1 if any(c.status == "fail" for s in sections for c in s.checks) else 0
