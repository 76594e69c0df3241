"""``[forms.X.fields.NAME]`` and ``[forms.X.lists.NAME]``: read, checked, explained in words.

A list names what its connector calls it, and the connector's kind decides which key that is
(see service.form_fields.ListSpec); a list an ESP could not place is refused here, not at the
first confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.form_fields import FIELD_NAME, FIELD_TYPES, RESERVED, FieldSpec, ListSpec
from service.numbers import whole_number
from service.settings_reader import EnvText, Reader, closest, typed
from service.settings_types import LANGUAGES

MAX_FIELDS = 20
MAX_LISTS = 20
# Which key names a list at each connector kind, and what it is there.
LIST_TARGETS: dict[str, tuple[tuple[str, ...], str]] = {
    "mailchimp": (("interest", "tag"), "a Mailchimp interest id (interest) or tag name (tag)"),
    "brevo": (("list_id",), "a Brevo list id (list_id, numeric)"),
    "mailjet": (("list_id",), "a Mailjet list id (list_id, numeric)"),
    "sendgrid": (("list_id",), "a SendGrid list id (list_id)"),
    "getresponse": (("tag",), "a GetResponse tag id (tag)"),
    "kit": (("tag",), "a Kit tag id (tag, numeric)"),
    "webhook": ((), "nothing: the webhook receives the list's name"),
    "builtin": ((), "nothing: optin keeps the list's name"),
}
NUMERIC_IDS = {"brevo", "mailjet", "kit"}


def per_language(
    table: dict[str, Any], s: str, key: str, default: str, language: str, r: Reader
) -> tuple[str, dict[str, str]]:
    """A text given once (``consent_text = "…"``) or per language (``[forms.X.consent_text] fr = "…"``):
    the text in the form's own language, and the table of every language given."""
    r.note(s, key)
    if key not in table:
        return default, {}
    where = f"{s}.{key}"
    raw = r.resolve(where, table.pop(key))
    r.used[where] = r.origin(where)
    if isinstance(raw, EnvText) and raw.lstrip().startswith("{"):
        raw = typed(raw, dict) or raw
    if isinstance(raw, str):
        return str(raw), {}
    if not isinstance(raw, dict):
        r.problems.append(f'{where} must be a text, or a table of texts by language (fr = "…")')
        return default, {}
    texts: dict[str, str] = {}
    for lang, text in raw.items():
        text = r.resolve(f"{where}.{lang}", text)
        if lang not in LANGUAGES:
            r.problems.append(f"{where}.{lang}: the languages are {', '.join(LANGUAGES)}")
        elif not isinstance(text, str) or not text.strip():
            r.problems.append(f"{where}.{lang} must be a non-empty text")
        else:
            texts[lang] = str(text)
    if texts and language not in texts:
        r.problems.append(
            f"{where} has no text in {language}, the form's language: add {where}.{language}"
            " (visitors in other languages see it)"
        )
    return texts.get(language, default), texts


def _entries(where: str, raw: object, limit: int, r: Reader) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(raw, EnvText):
        raw = typed(raw, dict)
    if not isinstance(raw, dict):
        r.problems.append(f"[{where}] must be a table of named entries")
        return []
    if len(raw) > limit:
        r.problems.append(f"[{where}] has {len(raw)} entries; at most {limit} are allowed")
    found = []
    for name, entry in raw.items():
        s = f"{where}.{name}"
        if isinstance(entry, EnvText):
            entry = typed(entry, dict)
        if not isinstance(entry, dict):
            r.problems.append(f"[{s}] must be a table")
            continue
        if not FIELD_NAME.fullmatch(str(name)):
            r.problems.append(
                f"{s}: a name is a lower-case letter, then letters, digits or _ (at most 40 characters)"
            )
            continue
        found.append((str(name), dict(entry)))
    return found


def fields_section(form_section: str, raw: object, language: str, r: Reader) -> tuple[FieldSpec, ...]:
    where = f"{form_section}.fields"
    specs = []
    for name, table in _entries(where, raw, MAX_FIELDS, r):
        s = f"{where}.{name}"
        if name in RESERVED:
            r.problems.append(f"{s}: {name!r} is a name optin already uses; choose another")
        kind = r.take(table, s, "type", str, "text")
        if kind not in FIELD_TYPES:
            r.problems.append(f"{s}.type must be one of {', '.join(FIELD_TYPES)}, not {kind!r}")
            kind = "text"
        required = r.take(table, s, "required", bool, False)
        length_given = "max_length" in table
        max_length = r.take(table, s, "max_length", int, 200)
        if length_given and kind != "text":
            r.problems.append(f"{s}.max_length is only for text fields")
        elif not 1 <= max_length <= 2000:
            r.problems.append(f"{s}.max_length must be from 1 to 2000, not {max_length}")
        choices = tuple(str(c) for c in r.take(table, s, "choices", list, []))
        if kind == "choice" and (not choices or any(not c.strip() or len(c) > 200 for c in choices)):
            r.problems.append(f'{s}.choices must list the values offered, like ["small", "large"]')
        elif kind != "choice" and choices:
            r.problems.append(f"{s}.choices is only for choice fields")
        default = name.replace("_", " ").capitalize()
        label, labels = per_language(table, s, "label", default, language, r)
        r.leftovers(table, s)
        specs.append(FieldSpec(name, kind, label, labels, required, max_length, choices))
    return tuple(specs)


def lists_section(
    form_section: str,
    raw: object,
    language: str,
    form_connector: str,
    connectors: Mapping[str, Any],
    r: Reader,
) -> tuple[ListSpec, ...]:
    where = f"{form_section}.lists"
    specs = []
    for name, table in _entries(where, raw, MAX_LISTS, r):
        s = f"{where}.{name}"
        connector = r.take(table, s, "connector", str, form_connector)
        options = connectors.get(connector)
        kind = "builtin" if connector == "builtin" else options.get("kind") if options else None
        if options is None and connector != "builtin":
            hint = f" (or did you mean {n}?)" if (n := closest(connector, connectors)) else ""
            r.problems.append(
                f"{s}.connector names {connector!r}, but there is no [connectors.{connector}]{hint}"
            )
        targets = {key: r.take(table, s, key, str, "").strip() for key in ("tag", "interest", "list_id")}
        preselected = r.take(table, s, "preselected", bool, False)
        label, labels = per_language(table, s, "label", name.replace("_", " ").capitalize(), language, r)
        r.leftovers(table, s)
        if isinstance(kind, str) and kind in LIST_TARGETS:
            _check_target(s, kind, targets, r)
        specs.append(ListSpec(name, connector, label, labels, preselected, **targets))
    return tuple(specs)


def _check_target(s: str, kind: str, targets: dict[str, str], r: Reader) -> None:
    keys, what = LIST_TARGETS[kind]
    given = [k for k, v in targets.items() if v]
    stray = [k for k in given if k not in keys]
    if stray:
        r.problems.append(f"{s}.{stray[0]} means nothing to a {kind} connector; a list there is {what}")
    elif keys and not given:
        r.problems.append(f"{s} must say where the list is at {kind}: {what}")
    elif len(given) > 1:
        r.problems.append(f"{s}: give one of {' or '.join(keys)}, not both")
    elif kind in NUMERIC_IDS and given and whole_number(targets[given[0]]) is None:
        r.problems.append(f"{s}.{given[0]} must be {kind}'s numeric id, not {targets[given[0]]!r}")
