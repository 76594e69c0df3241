"""``optin import FILE`` and ``optin imports list|run|pause|resume``."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    """Registered once the import commands exist."""
