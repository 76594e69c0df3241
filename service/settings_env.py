"""Settings from the environment, the way containers pass them, layered over the settings file.

``OPTIN_SERVER__PUBLIC_URL=https://…`` sets ``server.public_url`` (``__`` between the levels, any
case); ``OPTIN_SMTP__PASSWORD_FILE=/run/secrets/smtp`` sets ``smtp.password`` to that file's
contents without its trailing newline (Docker and Kubernetes secrets). The environment wins over
the file. Variables without ``__`` (``OPTIN_CONFIG``, names that ``env:`` values refer to) are not
settings. A name holding a ``-`` (``[connectors.main-list]``) is written with ``_``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.settings_reader import EnvText

PREFIX = "OPTIN_"
LEVEL = "__"
FILE_SUFFIX = "_file"


@dataclass
class Layered:
    """The settings tables after the environment was laid over the file, and where each came from."""

    data: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    from_environment: int = 0


def _record_file(data: Mapping[str, Any], label: str, prefix: str, origins: dict[str, str]) -> None:
    """Record every value of the file, leaf by leaf (a table's origin is that of its values)."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            _record_file(value, label, f"{path}.", origins)
        else:
            origins[path] = label


def _key_in(table: Mapping[str, Any], segment: str) -> str:
    """The existing key ``segment`` names (``MAIN_LIST`` → ``main-list``), else ``segment`` lowered."""
    wanted = segment.lower()
    for key in table:
        if str(key).lower().replace("-", "_") == wanted:
            return str(key)
    return wanted


def _read_secret(path: str) -> str | Exception:
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        return exc


def layer(
    file_data: Mapping[str, Any],
    file_label: str,
    env: Mapping[str, str],
    keys_ending_in_file: Iterable[str] = (),
) -> Layered:
    """Lay every ``OPTIN_A__B…`` variable of ``env`` over ``file_data`` (which is not changed)."""
    data: dict[str, Any] = copy.deepcopy(dict(file_data))
    result = Layered(data)
    _record_file(data, file_label, "", result.origins)
    direct = {k.lower() for k in keys_ending_in_file}
    names = sorted(n for n in env if n.upper().startswith(PREFIX) and LEVEL in n[len(PREFIX) :])
    for name in names:
        segments = name[len(PREFIX) :].split(LEVEL)
        if any(not s for s in segments):
            result.problems.append(f"${name}: empty level between two __ (write OPTIN_SECTION__KEY)")
            continue
        last = segments[-1].lower()
        value = env[name]
        origin = f"${name}"
        if last.endswith(FILE_SUFFIX) and last not in direct and len(last) > len(FILE_SUFFIX):
            segments[-1] = last[: -len(FILE_SUFFIX)]
            twin = name[: -len(FILE_SUFFIX)]
            if twin in env:
                result.problems.append(f"${name} and ${twin} both set the same setting: keep one")
                continue
            secret = _read_secret(env[name])
            if isinstance(secret, Exception):
                reason = getattr(secret, "strerror", None) or str(secret)
                result.problems.append(f"${name} names the file {env[name]}, which cannot be read ({reason})")
                continue
            value = secret
            origin = f"file {env[name]} (${name})"
        table = data
        path: list[str] = []
        for segment in segments[:-1]:
            key = _key_in(table, segment)
            path.append(key)
            if not isinstance(table.get(key), dict):
                table[key] = {}
            table = table[key]
        key = _key_in(table, segments[-1])
        path.append(key)
        table[key] = EnvText(value, origin)
        dotted = ".".join(path)
        for known in [p for p in result.origins if p.startswith(dotted + ".")]:
            del result.origins[known]
        result.origins[dotted] = origin
        result.from_environment += 1
    return result
