"""Walking the settings: ``env:`` references, types, where each value came from, problems in words.

Values from the environment (``OPTIN_SECTION__KEY``, ``env:NAME``) and from secret files arrive as
text (:class:`EnvText`); the setting that reads one decides what it means: ``8000`` is a number for
``server.port`` and stays the text ``"8000"`` for ``smtp.password``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from service.controls import has_control

DEFAULT = "default"
_INTEGER = re.compile(r"[+-]?\d[\d_]*")
_NUMBER = re.compile(r"[+-]?(\d[\d_]*)?(\.\d+)?([eE][+-]?\d+)?")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
# Connector options whose text must never turn into a number ("0123" is an id, not 123).
_TEXT_KEYS = re.compile(r"(key|secret|password|token|url|id)$")

TYPE_WORDS: dict[type, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a text in quotes",
    list: 'a list, like ["a", "b"]',
    dict: "a table",
}


class EnvText(str):
    """Text that came from the environment or a file; ``origin`` says from where."""

    origin: str

    def __new__(cls, value: str, origin: str) -> EnvText:
        text = super().__new__(cls, value)
        text.origin = origin
        return text


def parse_value(text: str) -> Any:
    """A TOML or JSON value written as text (``["a", "b"]``, ``{a = 1}``, ``true``, ``2.5``), or None."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):  # over 4,300 digits; "[[[…"
        return None


def typed(text: str, kind: type) -> Any:
    """``text`` read as ``kind``; None when it cannot be (the caller says so in words)."""
    stripped = text.strip()
    if kind is bool:
        lowered = stripped.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    if kind is int:
        digits = stripped.replace("_", "")
        return int(digits) if _INTEGER.fullmatch(stripped) and len(digits) <= 19 else None
    if kind is float:
        if not stripped or not _NUMBER.fullmatch(stripped) or stripped in ("+", "-", "."):
            return None
        number = float(stripped.replace("_", ""))
        return number if math.isfinite(number) else None
    if kind in (list, dict):
        value = parse_value(stripped)
        return value if isinstance(value, kind) else None
    return text


def loosen(value: Any, key: str = "") -> Any:
    """Environment text inside a table optin passes on untyped (connectors, policies), made the
    value it looks like: a list, a table, true/false or a number (not for ids and secrets)."""
    if isinstance(value, dict):
        return {k: loosen(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [loosen(v) for v in value]
    if not isinstance(value, EnvText):
        return value
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        parsed = parse_value(stripped)
        if isinstance(parsed, list | dict):
            return parsed
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if not _TEXT_KEYS.search(key.lower()):
        for kind in (int, float):
            number = typed(stripped, kind)
            if number is not None:
                return number
    return str(value)


def closest(word: str, known: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word.lower(), sorted(set(known)), n=1, cutoff=0.6)
    return found[0] if found else None


def origin_of(origins: Mapping[str, str], path: str) -> str:
    """Where the value at ``path`` was written: its own entry, else the entries inside it (a
    table written key by key), else the value holding it (a table given whole, as JSON)."""
    if path in origins:
        return origins[path]
    inside = sorted({o for p, o in origins.items() if p.startswith(path + ".")})
    if inside:
        return " and ".join(inside)
    probe = path.rpartition(".")[0]
    while probe:
        if probe in origins:
            return origins[probe]
        probe = probe.rpartition(".")[0]
    return DEFAULT


class Reader:
    """Walks the settings tables, resolving ``env:`` values and collecting every problem.

    ``origins`` maps a dotted path (``smtp.password``) to where its value was written; every
    value read is recorded in ``used`` with its origin, for ``optin check-config``.
    """

    def __init__(self, env: Mapping[str, str], origins: Mapping[str, str] | None = None) -> None:
        self.env = env
        self.origins = dict(origins or {})
        self.problems: list[str] = []
        self.used: dict[str, str] = {}
        self.known: defaultdict[str, set[str]] = defaultdict(set)

    def origin(self, path: str) -> str:
        return origin_of(self.origins, path)

    def _from(self, path: str) -> str:
        """`` (from $OPTIN_…)`` for a value the settings file does not show, else nothing."""
        origin = self.origin(path)
        outside = origin.startswith(("$", "file ")) or " → $" in origin
        return f" (from {origin})" if outside else ""

    def resolve(self, where: str, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("env:"):
            name = value[4:]
            if name not in self.env:
                self.problems.append(
                    f"{where} refers to the environment variable {name}, which is not set{self._from(where)}"
                )
                return ""
            origin = f"{self.origin(where)} → ${name}"
            self.origins[where] = origin
            return EnvText(self.env[name], origin)
        return value

    def note(self, section: str, *keys: str) -> None:
        """Keys a section knows besides those read with :meth:`take` (for spelling suggestions)."""
        self.known[section].update(keys)

    def take(self, table: dict[str, Any], section: str, key: str, kind: type, default: Any) -> Any:
        self.known[section].add(key)
        if key not in table:
            return default
        where = f"{section}.{key}"
        value = self.resolve(where, table.pop(key))
        self.used[where] = self.origin(where)
        if isinstance(value, EnvText) and kind is not str:
            converted = typed(value, kind)
            if converted is None:
                self.problems.append(
                    f"{where} must be {TYPE_WORDS.get(kind, kind.__name__)}, not {str(value)!r}{self._from(where)}"
                )
                return default
            value = converted
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problems.append(
                f"{where} must be {TYPE_WORDS.get(kind, kind.__name__)}, not {value!r}{self._from(where)}"
            )
            return default
        if isinstance(value, float) and not math.isfinite(value):
            # TOML writes nan and inf, and no comparison refuses nan: a delay of nan seconds would
            # make every job due at a time that never comes.
            self.problems.append(f"{where} must be a finite number, not {value!r}{self._from(where)}")
            return default
        return str(value) if kind is str else value

    def untyped(self, where: str, value: Any) -> Any:
        """A value handed on to a part that checks its own types: ``env:`` resolved, text loosened."""
        if isinstance(value, dict):
            return {k: self.untyped(f"{where}.{k}", v) for k, v in value.items()}
        self.used[where] = self.origin(where)
        return loosen(self.resolve(where, value), where.rpartition(".")[2])

    def leftovers(self, table: Mapping[str, Any], section: str) -> None:
        for key in table:
            hint = closest(str(key), self.known[section])
            guess = f"did you mean {hint}?" if hint else "check the spelling"
            self.problems.append(
                f"{section}.{key} is not a setting optin knows ({guess}){self._from(f'{section}.{key}')}"
            )


def table_of(raw: dict[str, Any], key: str, reader: Reader) -> dict[str, Any]:
    value = raw.pop(key, {})
    if isinstance(value, EnvText):
        value = typed(value, dict)
    if not isinstance(value, dict):
        reader.problems.append(f"[{key}] must be a table{reader._from(key)}")
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


def control_characters(data: Mapping[str, Any], where: str = "") -> list[str]:
    """Every text of the settings holding a control character other than a tab or a line break
    (TOML spells them ``\\u0000``): none belongs in a title, an address or a key, and a NUL in a
    consent text would make every signup fail on PostgreSQL, which refuses it in any text."""
    found: list[str] = []
    for key, value in data.items():
        here = f"{where}.{key}" if where else str(key)
        if isinstance(value, Mapping):
            found += control_characters(value, here)
        items = value if isinstance(value, list) else [value]
        if has_control(str(key)) or any(isinstance(item, str) and has_control(item) for item in items):
            found.append(f"{here} holds a control character (such as \\u0000); remove it")
    return found
