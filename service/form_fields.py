"""A form's custom fields, campaign tracking and list choice: what they are, and reading them. Pure.

``[forms.X.fields.NAME]`` declares a field the widget draws and the server checks; the values are
stored with the contact (JSON) and handed to list connectors, which map them with their ``fields``
option. ``[forms.X.lists.NAME]`` offers a list the visitor may tick. The campaign fields
(``utm_source``, ``utm_medium``, ``utm_campaign``, from the page's URL) and ``referrer`` are kept
for every form without being declared.

None of these values ever appears in an email we send. A visitor-typed text that looks like a
link or an address is still refused: lists pass fields on to ESP templates, which may print them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from service.names import looks_like_link

FieldType = Literal["text", "number", "boolean", "choice", "date"]
FIELD_TYPES: tuple[FieldType, ...] = ("text", "number", "boolean", "choice", "date")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
TRACKING = ("utm_source", "utm_medium", "utm_campaign", "referrer")
# Names a request already uses for something else (and the widget's own fields).
RESERVED = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "language",
        "consent",
        "consent_text",
        "page_url",
        "lists",
        "signup",
        "code",
        "form",
        "submission_id",
        "optin_hp",
        "optin_ts",
        "altcha",
        *TRACKING,
    }
)
MAX_TEXT = 2000
MAX_TRACKING = 200
MAX_REFERRER = 2000
_SPACES = re.compile(r"\s+")
_TRUE = ("1", "true", "on", "yes", "y")
_FALSE = ("", "0", "false", "off", "no", "n")


def label_in(labels: Mapping[str, str], language: str, fallback: str) -> str:
    return labels.get(language) or fallback


@dataclass(frozen=True)
class FieldSpec:
    """One ``[forms.X.fields.NAME]``; ``label`` is in the form's language, ``labels`` per language."""

    name: str
    type: FieldType = "text"
    label: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    required: bool = False
    max_length: int = 200  # text only
    choices: tuple[str, ...] = ()  # choice only

    def public(self) -> dict[str, Any]:
        """What the widget needs to draw it."""
        shown: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "labels": dict(self.labels),
            "required": self.required,
        }
        if self.type == "text":
            shown["max_length"] = self.max_length
        if self.type == "choice":
            shown["choices"] = list(self.choices)
        return shown


@dataclass(frozen=True)
class ListSpec:
    """One ``[forms.X.lists.NAME]``: a list the visitor may choose, and where it lives.

    ``connector`` is resolved (the form's own when the entry names none). What the ESP calls the
    list: ``interest`` (a Mailchimp interest id), ``tag`` (a Mailchimp tag name, a GetResponse or
    Kit tag id), ``list_id`` (a Brevo, Mailjet or SendGrid list id); the built-in list and the
    webhook take the name alone.
    """

    name: str
    connector: str
    label: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    preselected: bool = False
    tag: str = ""
    interest: str = ""
    list_id: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "labels": dict(self.labels),
            "preselected": self.preselected,
        }


@dataclass(frozen=True)
class Extras:
    """What a signup carried beyond the address: checked values, chosen lists, or what is wrong."""

    values: dict[str, Any] = field(default_factory=dict)
    lists: tuple[str, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)


def _text(raw: object) -> str:
    """Visible characters only, runs of white space as one space, trimmed."""
    text = unicodedata.normalize("NFC", str(raw))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return _SPACES.sub(" ", text).strip()


def _scalar(raw: object) -> object:
    if isinstance(raw, list):  # a form post repeats a key; a field takes one value
        return raw[-1] if raw else None
    return raw


def check_value(spec: FieldSpec, raw: object) -> tuple[Any, str | None]:
    """(the value to store, or None when absent; the problem in words, or None)."""
    raw = _scalar(raw)
    if spec.type == "boolean":
        if isinstance(raw, bool):
            value = raw
        elif raw is None or (isinstance(raw, str) and raw.strip().lower() in _FALSE):
            value = False
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE:
            value = True
        else:
            return None, "must be ticked or not (true or false)"
        if spec.required and not value:
            return None, "please tick this box"
        return value, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "please fill in this field" if spec.required else None
    if isinstance(raw, dict | list | bool):
        return None, "must be a single value"
    if spec.type == "number":
        return _number(raw)
    text = _text(raw)
    if spec.type == "date":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None, "must be a date written YYYY-MM-DD"
        if not 1900 <= day.year <= 2100:
            return None, "must be a date between 1900 and 2100"
        return day.isoformat(), None
    if spec.type == "choice":
        return (text, None) if text in spec.choices else (None, f"must be one of: {', '.join(spec.choices)}")
    if len(text) > spec.max_length:
        return None, f"must be at most {spec.max_length} characters"
    if looks_like_link(text):
        return None, "web and email addresses are not accepted in this field"
    return text, None


def _number(raw: object) -> tuple[Any, str | None]:
    if isinstance(raw, int | float):
        number = float(raw)
    else:
        text = _text(raw).replace(",", ".").replace(" ", "")
        try:
            number = float(text)
        except ValueError:
            return None, "must be a number"
    if not math.isfinite(number) or abs(number) >= 1e15:
        return None, "must be a number"
    return (int(number) if number.is_integer() else number), None


def tracking_values(data: Mapping[str, Any], page_url: str | None) -> dict[str, str]:
    """utm_source, utm_medium, utm_campaign (as sent, else from the page's URL) and referrer."""
    query: dict[str, list[str]] = {}
    if page_url:
        try:
            query = parse_qs(urlsplit(page_url).query)
        except ValueError:
            query = {}
    found: dict[str, str] = {}
    for name in TRACKING[:3]:
        raw = _scalar(data.get(name))
        if not isinstance(raw, str) or not raw.strip():
            raw = (query.get(name) or [""])[0]
        text = _text(raw)[:MAX_TRACKING]
        if text:
            found[name] = text
    referrer = _scalar(data.get("referrer"))
    if isinstance(referrer, str):
        text = _text(referrer)[:MAX_REFERRER]
        try:
            scheme = urlsplit(text).scheme
        except ValueError:  # "http://[x": an IPv6 bracket never closed
            scheme = ""
        if scheme in ("http", "https"):
            found["referrer"] = text
    return found


def chosen_lists(lists: Sequence[ListSpec], raw: object) -> tuple[tuple[str, ...], str | None]:
    """The names ticked (in the form's order), or why the choice cannot be accepted.

    No ``lists`` in the request (an HTML form without the boxes, a contact-form hook) means the
    preselected ones. Ticking none is refused: the visitor must want something.
    """
    if not lists:
        return (), None
    known = [spec.name for spec in lists]
    if raw is None:
        names = [spec.name for spec in lists if spec.preselected]
    elif isinstance(raw, str):
        names = [n.strip() for n in raw.split(",") if n.strip()]
    elif isinstance(raw, list) and all(isinstance(n, str) for n in raw):
        names = [n.strip() for n in raw if n.strip()]
    else:
        return (), "must be a list of list names"
    unknown = [n for n in names if n not in known]
    if unknown:
        return (), f"there is no list called {unknown[0][:60]!r}; the lists are {', '.join(known)}"
    if not names:
        return (), "please choose at least one list"
    return tuple(n for n in known if n in names), None


def read_extras(
    fields: Sequence[FieldSpec], lists: Sequence[ListSpec], data: Mapping[str, Any], page_url: str | None
) -> Extras:
    """Every declared field checked (all problems at once), campaign tracking, the lists chosen."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in fields:
        value, problem = check_value(spec, data.get(spec.name))
        if problem:
            errors[spec.name] = problem
        elif value is not None:
            values[spec.name] = value
    values.update(tracking_values(data, page_url))
    chosen, problem = chosen_lists(lists, data.get("lists"))
    if problem:
        errors["lists"] = problem
    return Extras(values, chosen, errors)


def as_text(value: Any) -> str:
    """A stored value as lists and exports write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
