"""``[imports.NAME]``: a recurring import, read and checked with the rest of the settings.

[imports.shop]
source = "https://shop.example.com/export.csv"   # or a local file
every = "24h"
max_rows = 10000
form = "newsletter"
connector = "main-list"          # default: the form's
policy = "add_update"
map = { "E-mail" = "email", "Société" = "company" }
ignore = ["Order total"]
permission = "Customers who ticked 'send me news' at checkout"
day_of_cycle = 0                 # GetResponse autoresponder day
enabled = true
headers = { Authorization = "env:SHOP_EXPORT_TOKEN" }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.settings_checks import is_loopback
from service.settings_reader import Reader

POLICIES = ("add_update", "add_only", "update_only")
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
MIN_EVERY = 60.0


def parse_every(text: str) -> float | None:
    """``"24h"``, ``"30m"``, ``"1d"``, ``"90s"`` in seconds; None when it is none of those."""
    match = _DURATION.fullmatch(text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else None


@dataclass(frozen=True)
class ImportSettings:
    name: str
    source: str
    form: str
    permission: str
    every: float = 86_400.0
    max_rows: int = 10_000
    connector: str | None = None
    policy: str = "add_update"
    map: Mapping[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    day_of_cycle: int | None = None
    enabled: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    max_bytes: int = 50 * 1024 * 1024
    allow_loopback: bool = False  # a source on this machine (trials, tests); private networks never

    @property
    def is_url(self) -> bool:
        return urlsplit(self.source).scheme in ("http", "https")


def import_section(
    name: str,
    table: dict[str, Any],
    forms: Mapping[str, Any],
    connectors: Mapping[str, Any],
    r: Reader,
) -> ImportSettings:
    s = f"imports.{name}"
    source = r.take(table, s, "source", str, "")
    form = r.take(table, s, "form", str, "")
    permission = r.take(table, s, "permission", str, "")
    every_text = r.take(table, s, "every", str, "24h")
    every = parse_every(every_text)
    if every is None or every < MIN_EVERY:
        r.problems.append(
            f'{s}.every must be a duration of at least a minute like "24h", "30m" or "1d", not {every_text!r}'
        )
        every = 86_400.0
    max_rows = r.take(table, s, "max_rows", int, 10_000)
    if max_rows < 1:
        r.problems.append(f"{s}.max_rows must be at least 1")
    connector = r.take(table, s, "connector", str, "") or None
    policy = r.take(table, s, "policy", str, "add_update")
    r.note(s, "map", "headers")
    mapped = r.untyped(f"{s}.map", table.pop("map", {}))
    headers = r.untyped(f"{s}.headers", table.pop("headers", {}))
    ignore = r.take(table, s, "ignore", list, [])
    day = r.take(table, s, "day_of_cycle", int, -1)
    settings = ImportSettings(
        name=name,
        source=source,
        form=form,
        permission=permission,
        every=every,
        max_rows=max_rows,
        connector=connector,
        policy=policy,
        map={str(k): str(v) for k, v in mapped.items()} if isinstance(mapped, dict) else {},
        ignore=tuple(str(i) for i in ignore),
        day_of_cycle=None if day < 0 else day,
        enabled=r.take(table, s, "enabled", bool, True),
        headers={str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {},
        timeout=r.take(table, s, "timeout", float, 60.0),
        max_bytes=r.take(table, s, "max_bytes", int, 50 * 1024 * 1024),
        allow_loopback=r.take(table, s, "allow_loopback", bool, False),
    )
    r.leftovers(table, s)
    r.problems.extend(f"{s}.{p}" for p in _problems(settings, forms, connectors, mapped, headers))
    return settings


def _problems(
    i: ImportSettings,
    forms: Mapping[str, Any],
    connectors: Mapping[str, Any],
    mapped: object,
    headers: object,
) -> list[str]:
    problems: list[str] = []
    if not i.source:
        problems.append('source is required: an https:// URL or a file path ("/srv/exports/customers.csv")')
    elif i.is_url:
        parts = urlsplit(i.source)
        if parts.username or parts.password:
            problems.append("source must not hold a user or password: put them in headers, from env:")
        if parts.scheme == "http" and not (i.allow_loopback and is_loopback(parts.hostname or "")):
            problems.append(
                "source must be https:// (plain http only for a loopback source with allow_loopback)"
            )
    elif "://" in i.source:
        problems.append(f"source must be an https:// URL or a file path, not {i.source!r}")
    elif not Path(i.source).is_absolute():
        problems.append(
            f"source {i.source!r} must be an absolute file path (the worker's directory may differ)"
        )
    if not i.form or i.form not in forms:
        problems.append(
            f"form must name a [forms.NAME] (got {i.form!r}; forms: {', '.join(forms) or 'none'})"
        )
    if i.connector and i.connector != "builtin" and i.connector not in connectors:
        problems.append(f"connector names {i.connector!r}, but there is no [connectors.{i.connector}]")
    if i.policy not in POLICIES:
        problems.append(f"policy must be one of {', '.join(POLICIES)}, not {i.policy!r}")
    if not i.permission.strip():
        problems.append(
            "permission is required: say how you have these people's permission (it goes in each ledger)"
        )
    if not isinstance(mapped, dict):
        problems.append('map must be a table of column = "target"')
    if not isinstance(headers, dict):
        problems.append('headers must be a table of name = "value" (values may be env:NAME)')
    if i.timeout <= 0 or i.max_bytes <= 0:
        problems.append("timeout and max_bytes must be more than 0")
    return problems
