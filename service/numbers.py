"""Whole numbers written by someone else (a query string, a header, a form, the command line).

``str.isdigit()`` is true for "²" and "①", which ``int()`` refuses, and ``int()`` refuses more
than 4,300 digits: either, behind an ``isdigit()`` check, was a 500 or a traceback. Every number
we read from outside goes through here instead.
"""

from __future__ import annotations

MAX_DIGITS = 18  # any count, id or time we use fits; a 64-bit integer holds 18 digits


def whole_number(text: str, below: int = 10**MAX_DIGITS) -> int | None:
    """``text`` as an integer from 0 to ``below`` - 1 when it is written in ASCII digits only
    (surrounding white space allowed), else None."""
    text = text.strip()
    if not 0 < len(text) <= MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value < below else None
