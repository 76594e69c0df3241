"""Control characters in text from outside (a visitor, a plugin, a settings file).

None belongs in anything we keep or show, and PostgreSQL refuses a NUL in any text: a NUL that
reaches a statement fails it. Tabs and line breaks are text, not controls, here.
"""

from __future__ import annotations

import re

CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    return CONTROLS.search(text) is not None


def marked(text: str) -> str:
    """``text`` with each control character shown as U+FFFD (kept as evidence: something was there)."""
    return CONTROLS.sub("\ufffd", text)
