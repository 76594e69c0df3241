"""Walking the settings file: ``env:`` references, types, and every problem collected in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Reader:
    """Walks a TOML table, resolving ``env:`` values and collecting every problem."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def resolve(self, where: str, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("env:"):
            name = value[4:]
            if name not in self.env:
                self.problems.append(f"{where} refers to the environment variable {name}, which is not set")
                return ""
            return self.env[name]
        return value

    def take(self, table: dict[str, Any], section: str, key: str, kind: type, default: Any) -> Any:
        if key not in table:
            return default
        value = self.resolve(f"{section}.{key}", table.pop(key))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problems.append(f"{section}.{key} must be a {kind.__name__}, not {value!r}")
            return default
        return value

    def leftovers(self, table: Mapping[str, Any], section: str) -> None:
        for key in table:
            self.problems.append(f"{section}.{key} is not a setting optin knows (check the spelling)")


def table_of(raw: dict[str, Any], key: str, reader: Reader) -> dict[str, Any]:
    value = raw.pop(key, {})
    if not isinstance(value, dict):
        reader.problems.append(f"[{key}] must be a table")
        return {}
    return dict(value)


def dataclass_section(cls: type, table: dict[str, Any], section: str, r: Reader) -> Any:
    defaults = cls()
    values = {
        name: r.take(table, section, name, type(getattr(defaults, name)), getattr(defaults, name))
        for name in defaults.__dataclass_fields__
    }
    r.leftovers(table, section)
    return cls(**values)
