"""The built-in list: confirmed contacts stay in optin's own database (``optin export``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.connectors.base import Contact, SyncResult
from service.errors import ConfigError


@dataclass
class BuiltinListConnector:
    name: str = "builtin"
    max_concurrency: int = 64

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> BuiltinListConnector:
        unknown = set(options) - {"kind"}
        if unknown:
            raise ConfigError(
                [f"connectors.{name}.{key} is not a builtin-list setting" for key in sorted(unknown)]
            )
        return cls(name=name)

    async def upsert(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        return SyncResult("kept in optin's own list (see optin export)")

    async def unsubscribe(self, contact: Contact, *, idempotency_key: str) -> SyncResult:
        return SyncResult("marked unsubscribed in optin's own list")

    async def check(self) -> SyncResult:
        return SyncResult("the built-in list is always available")

    async def aclose(self) -> None:
        return None
