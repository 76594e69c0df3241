"""The ``[admin]`` section: API keys, the web admin's password and session, /metrics, the digest."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.numbers import whole_number
from service.settings_checks import port_problem
from service.settings_reader import Reader
from service.settings_types import ADMIN_SCOPES, AdminKey, AdminSettings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _keys(entries: object, r: Reader) -> tuple[AdminKey, ...]:
    """``[admin.keys.NAME] sha256 = "…", scopes = [...]``: only hashes of keys are configured."""
    if not isinstance(entries, dict):
        r.problems.append("[admin.keys] must be a table of named keys")
        return ()
    keys = []
    for name, entry in entries.items():
        s = f"admin.keys.{name}"
        if not isinstance(entry, dict):
            r.problems.append(f"[{s}] must be a table with sha256 and scopes")
            continue
        entry = dict(entry)
        digest = str(r.take(entry, s, "sha256", str, "")).lower()
        scopes = r.take(entry, s, "scopes", list, [])
        r.leftovers(entry, s)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            r.problems.append(
                f"{s}.sha256 must be the key's SHA-256 in hex (`optin admin-key NAME` prints it)"
            )
        unknown = set(map(str, scopes)) - ADMIN_SCOPES
        if unknown or not scopes:
            r.problems.append(f"{s}.scopes must list some of {', '.join(sorted(ADMIN_SCOPES))}")
        keys.append(AdminKey(name, digest, frozenset(map(str, scopes))))
    return tuple(keys)


def listen_problem(value: str) -> str | None:
    host, _, port = value.rpartition(":")
    number = whole_number(port, 10**6)
    if not host or number is None:
        return f'must be "HOST:PORT" (e.g. "127.0.0.1:9464"), not {value!r}'
    return port_problem(number)


def _password_problem(value: str) -> str | None:
    from argon2 import extract_parameters
    from argon2.exceptions import InvalidHashError

    try:
        extract_parameters(value)
    except (InvalidHashError, ValueError):
        return "must be an argon2 hash as `optin admin-password` prints it ($argon2id$…), never the password"
    return None


def admin_section(
    table: dict[str, Any], env: Mapping[str, str], owner_email: str, r: Reader
) -> tuple[tuple[AdminKey, ...], AdminSettings]:
    s = "admin"
    keys = _keys(table.pop("keys", {}), r)
    r.note(s, "keys")
    password_hash = r.take(table, s, "password_hash", str, "")
    if password_hash and (problem := _password_problem(password_hash)):
        r.problems.append(f"admin.password_hash {problem}")
    metrics_listen = r.take(table, s, "metrics_listen", str, "")
    if metrics_listen and (problem := listen_problem(metrics_listen)):
        r.problems.append(f"admin.metrics_listen {problem}")
    settings = AdminSettings(
        password_hash=password_hash,
        session_hours=r.take(table, s, "session_hours", float, 8.0),
        metrics_listen=metrics_listen,
        metrics_multiproc_dir=env.get(MULTIPROC_ENV, ""),
        daily_digest=r.take(table, s, "daily_digest", bool, False),
        digest_hour=r.take(table, s, "digest_hour", int, 7),
    )
    r.leftovers(table, s)
    if not 0 < settings.session_hours <= 24 * 30:
        r.problems.append(
            f"admin.session_hours must be more than 0 and at most 720, not {settings.session_hours}"
        )
    if not 0 <= settings.digest_hour <= 23:
        r.problems.append(f"admin.digest_hour must be an hour from 0 to 23 (UTC), not {settings.digest_hour}")
    if settings.daily_digest and not owner_email:
        r.problems.append("admin.daily_digest needs server.owner_email: the address the digest goes to")
    folder = settings.metrics_multiproc_dir
    if folder and not Path(folder).is_dir():
        r.problems.append(
            f"${MULTIPROC_ENV} names {folder!r}, which is not a directory: create it (empty) before"
            " the processes start, or unset it for a single process"
        )
    return keys, settings
