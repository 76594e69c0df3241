"""The effective settings as TOML, secrets masked, each line saying where its value came from.

``optin check-config --show`` prints this: what the service really runs with once the file, the
environment, ``env:`` references and secret files are put together. The output is valid TOML,
so a section can be copied into a settings file (masked secrets excepted).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from service.settings_reader import origin_of
from service.settings_types import Settings
from service.verification.config import DNS_KEYS, VERIFICATION_KEYS

MASK = "********"
_SECRET_KEY = re.compile(r"(^|_)(password|password_hash|secret|token|api_key|secret_key|private_key)$")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def is_secret(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def masked_url(url: str) -> str:
    """A URL without its password and query values (where services put tokens)."""
    parts = urlsplit(url)
    if parts.password is None and not parts.query:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    query = "&".join(f"{p.split('=', 1)[0]}={MASK}" if "=" in p else p for p in parts.query.split("&") if p)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask(key: str, value: Any) -> Any:
    if isinstance(value, str) and value and is_secret(key):
        return MASK
    if isinstance(value, str) and "://" in value and (key in ("database", "url") or key.endswith("_url")):
        return masked_url(value)
    return value


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, frozenset | set):
        value = sorted(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


Section = tuple[str, list[tuple[str, Any]]]


def _fields(obj: Any, skip: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in skip]


def _sections(settings: Settings) -> Iterator[Section]:
    yield "server", _fields(settings.server)
    yield "smtp", _fields(settings.smtp, ("dkim",))
    if settings.smtp.dkim is not None:
        yield "smtp.dkim", _fields(settings.smtp.dkim)
    yield "outbox", _fields(settings.outbox)
    yield "limits", _fields(settings.limits)
    yield "dev", _fields(settings.dev)
    yield "lint", _fields(settings.lint)
    verifier = settings.verifier
    yield "dns", [(key, getattr(verifier, name)) for key, (name, _) in DNS_KEYS.items()]
    yield "verification", [(key, getattr(verifier, name)) for key, (name, _) in VERIFICATION_KEYS.items()]
    yield "admin", _fields(settings.admin, skip=("metrics_multiproc_dir",))
    for key in settings.admin_keys:
        yield f"admin.keys.{toml_key(key.name)}", [("sha256", key.sha256), ("scopes", sorted(key.scopes))]
    for form in settings.forms.values():
        name = f"forms.{toml_key(form.id)}"
        skip = (
            "id",
            "policy",
            "hook",
            "antibot",
            "widget_strings",
            "dns_offline",
            "titles",
            "consent_texts",
            "fields",
            "lists",
        )
        entries = _fields(form, skip)
        if form.titles:
            entries = [(k, dict(form.titles) if k == "title" else v) for k, v in entries]
        if form.consent_texts:
            entries = [(k, dict(form.consent_texts) if k == "consent_text" else v) for k, v in entries]
        yield name, entries
        yield f"{name}.verification", _fields(form.policy)
        yield f"{name}.antibot", _fields(form.antibot)
        if form.hook is not None:
            yield f"{name}.hook", _fields(form.hook)
        for language, strings in form.widget_strings.items():
            yield f"{name}.widget_strings.{language}", list(strings.items())
        for spec in form.fields:
            only = {"max_length": "text", "choices": "choice"}  # what the reader refuses elsewhere
            shown = [
                (k, v) for k, v in _fields(spec, ("name", "labels")) if only.get(k, spec.type) == spec.type
            ]
            yield f"{name}.fields.{spec.name}", _labelled(shown, spec.labels)
        for entry in form.lists:
            shown = [(k, v) for k, v in _fields(entry, ("name", "labels")) if v != ""]
            yield f"{name}.lists.{entry.name}", _labelled(shown, entry.labels)
    for connector, options in settings.connectors.items():
        yield f"connectors.{toml_key(connector)}", list(options.items())


def _labelled(entries: list[tuple[str, Any]], labels: Mapping[str, str]) -> list[tuple[str, Any]]:
    """A label given per language is shown as its table, like a form's title."""
    return [(k, dict(labels) if k == "label" and labels else v) for k, v in entries]


def render(settings: Settings) -> str:
    """Every effective setting as TOML, secrets masked, ``# where it came from`` on each line."""
    lines = [f"# optin's effective settings (from {settings.source}); secrets are masked"]
    for section, entries in _sections(settings):
        lines.append(f"\n[{section}]")
        for key, value in entries:
            path = f"{section}.{key}".replace('"', "")
            text = f"{toml_key(key)} = {toml_value(mask(key, value))}"
            lines.append(f"{text:<48} # {origin_of(settings.origins, path)}")
    return "\n".join(lines) + "\n"
