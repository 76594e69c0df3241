"""``[forms.NAME]``: one signup form, its texts per language, its hook, bot defences and policy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from service.antibot.policy import AntiBotPolicy
from service.errors import ConfigError
from service.settings_fields import fields_section, lists_section, per_language
from service.settings_reader import EnvText, Reader, closest, typed
from service.settings_types import ASSETS_ROOT, LANGUAGES, FormSettings, HookSettings
from service.verification import Policy

WIDGET_CATALOG = ASSETS_ROOT / "widget" / "i18n" / "en.json"


def form_section(
    form_id: str,
    table: dict[str, Any],
    connectors: Mapping[str, Any],
    r: Reader,
    link_days: float = 7.0,
) -> FormSettings:
    s = f"forms.{form_id}"
    language = r.take(table, s, "language", str, "en")
    if language not in LANGUAGES:
        r.problems.append(f"{s}.language must be one of {', '.join(LANGUAGES)}, not {language!r}")
        language = "en"
    origins = r.take(table, s, "allowed_origins", list, [])
    for origin in origins:
        parts = urlsplit(str(origin))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            r.problems.append(
                f"{s}.allowed_origins: {origin!r} is not an origin like https://www.example.com"
            )
    connector = r.take(table, s, "connector", str, "builtin")
    if connector != "builtin" and connector not in connectors:
        hint = f" (or did you mean {n}?)" if (n := closest(connector, connectors)) else ""
        r.problems.append(
            f"{s}.connector names {connector!r}, but there is no [connectors.{connector}]{hint}"
        )
    thank_you = r.take(table, s, "thank_you_url", str, "")
    if thank_you and urlsplit(thank_you).scheme not in ("http", "https"):
        r.problems.append(f"{s}.thank_you_url must be an http(s) URL")
    r.note(s, "hook", "antibot", "verification", "widget_strings", "fields", "lists")
    hook = _hook(s, table.pop("hook", None), r)
    try:
        antibot = AntiBotPolicy.from_mapping(r.untyped(f"{s}.antibot", table.pop("antibot", {})))
    except ConfigError as exc:
        r.problems.extend(f"{s}.antibot: {p}" for p in exc.problems)
        antibot = AntiBotPolicy()
    policy_table = r.untyped(f"{s}.verification", table.pop("verification", {}))
    try:
        policy = Policy.from_mapping(policy_table) if policy_table else Policy()
    except ConfigError as exc:
        r.problems.extend(f"{s}.verification: {p}" for p in exc.problems)
        policy = Policy()
    default_title = form_id.replace("-", " ").replace("_", " ").title()
    title, titles = per_language(table, s, "title", default_title, language, r)
    consent, consents = per_language(table, s, "consent_text", "", language, r)
    reminder = r.take(table, s, "reminder_after_hours", float, 0.0)
    if reminder < 0 or reminder >= link_days * 24:
        r.problems.append(
            f"{s}.reminder_after_hours must be 0 (no reminder) or less than the links' life"
            f" ({link_days * 24:g} hours, server.token_max_age_days), not {reminder:g}"
        )
    form = FormSettings(
        id=form_id,
        title=title,
        titles=titles,
        language=language,
        allowed_origins=tuple(str(o).rstrip("/") for o in origins),
        connector=connector,
        thank_you_url=thank_you,
        welcome_email=r.take(table, s, "welcome_email", bool, False),
        consent_text=consent,
        consent_texts=consents,
        widget_strings=_widget_strings(s, table.pop("widget_strings", {}), r),
        policy=policy,
        hook=hook,
        antibot=antibot,
        fields=fields_section(s, table.pop("fields", {}), language, r),
        lists=lists_section(s, table.pop("lists", {}), language, connector, connectors, r),
        reminder_after_hours=reminder,
    )
    r.leftovers(table, s)
    return form


def _widget_strings(form_section: str, raw: object, r: Reader) -> dict[str, dict[str, str]]:
    """``[forms.NAME.widget_strings.LANG]``: the widget's wording for this form, key by key."""
    s = f"{form_section}.widget_strings"
    if isinstance(raw, EnvText):
        raw = typed(raw, dict)
    if not isinstance(raw, dict):
        r.problems.append(f"[{s}] must be a table of languages")
        return {}
    known = set(json.loads(WIDGET_CATALOG.read_text(encoding="utf-8")))
    result: dict[str, dict[str, str]] = {}
    for language, strings in raw.items():
        if language not in LANGUAGES or not isinstance(strings, dict):
            r.problems.append(f"[{s}.{language}] must be one of {', '.join(LANGUAGES)}, holding texts")
            continue
        for key, text in strings.items():
            if key not in known:
                hint = closest_hint(key, known)
                r.problems.append(f"{s}.{language}.{key} is not a widget text ({hint})")
            elif not isinstance(text, str) or not text.strip():
                r.problems.append(f"{s}.{language}.{key} must be a non-empty text")
        result[language] = {k: str(v) for k, v in strings.items() if k in known and isinstance(v, str)}
    return result


def closest_hint(key: str, known: set[str]) -> str:
    found = closest(key, known)
    return f"did you mean {found}?" if found else f"known: {', '.join(sorted(known))}"


def _hook(form_section: str, raw: object, r: Reader) -> HookSettings | None:
    if raw is None:
        return None
    s = f"{form_section}.hook"
    if not isinstance(raw, dict):
        r.problems.append(f"[{s}] must be a table")
        return None
    table = dict(raw)
    secret = r.take(table, s, "secret", str, "")
    if len(secret) < 16:
        r.problems.append(f'{s}.secret must be at least 16 characters (use secret = "env:NAME")')
    url_token = r.take(table, s, "url_token", str, "")
    if url_token and len(url_token) < 24:
        r.problems.append(f"{s}.url_token must be at least 24 random characters: it is a password in a URL")
    defaults = HookSettings(secret="")
    names = [n for n in HookSettings.__dataclass_fields__ if n not in ("secret", "url_token")]
    values = {n: r.take(table, s, n, type(getattr(defaults, n)), getattr(defaults, n)) for n in names}
    if not values["email_field"] or not values["consent_field"]:
        r.problems.append(f"{s}: email_field and consent_field must name the submission's fields")
    r.leftovers(table, s)
    return HookSettings(secret=secret, url_token=url_token, **values)
