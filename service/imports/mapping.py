"""Which column of an export is what: email and names recognised by their usual headers in English,
French, Spanish and German; ``--map "E-mail=email,Société=company"`` for the rest; ``--ignore``.

Every column must be accounted for: a column neither recognised, mapped nor ignored refuses the
import before a row is read, naming the column, because silently dropping a column loses data the
owner meant to keep. Targets other than email, names and language are the form's custom fields
(checked against the form's ``fields`` when it declares them). Pure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from service.errors import InputError

BUILTIN_TARGETS = ("email", "first_name", "last_name", "language")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_FIELD_VALUE = 500

# Usual headers per target, in en, fr, es and de, compared after normalising (see _key).
KNOWN_HEADERS: dict[str, tuple[str, ...]] = {
    "email": (
        "email", "e-mail", "email address", "e-mail address", "mail", "emailaddress",
        "courriel", "adresse e-mail", "adresse email", "adresse électronique", "adresse mail", "mél",
        "correo", "correo electrónico", "email del contacto", "dirección de correo", "dirección de correo electrónico",
        "e-mail-adresse", "email-adresse", "emailadresse", "mailadresse",
    ),
    "first_name": (
        "first name", "firstname", "first", "given name", "forename",
        "prénom", "prenom",
        "nombre", "nombre de pila",
        "vorname",
    ),
    "last_name": (
        "last name", "lastname", "surname", "family name",
        "nom", "nom de famille",
        "apellido", "apellidos",
        "nachname", "familienname",
    ),
    "language": ("language", "lang", "locale", "langue", "idioma", "sprache"),
}  # fmt: skip


def _key(header: str) -> str:
    """``E-Mail-Adresse`` / ``Prénom`` / ``first_name`` compare as ``email adresse`` / ``prenom`` / ``first name``."""
    text = unicodedata.normalize("NFKD", header)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[-_.:/]", " ", text).split())


_RECOGNISED = {_key(h): target for target, headers in KNOWN_HEADERS.items() for h in headers}


@dataclass(frozen=True)
class ColumnMap:
    """column -> target (``email``, ``first_name``, ``last_name``, ``language`` or a field name)."""

    targets: Mapping[str, str]
    ignored: tuple[str, ...] = ()
    recognised: tuple[str, ...] = field(default=())  # columns matched by their header alone

    @property
    def email_column(self) -> str:
        return next(c for c, t in self.targets.items() if t == "email")

    def describe(self) -> str:
        parts = [f"{column} → {target}" for column, target in self.targets.items()]
        if self.ignored:
            parts.append(f"ignored: {', '.join(self.ignored)}")
        return "; ".join(parts)


def parse_pairs(text: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"E-mail=email,Prénom=first_name"`` (or a table from the settings) as column -> target."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in text.items()}
    pairs: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        column, equals, target = part.partition("=")
        if not equals or not column.strip() or not target.strip():
            raise InputError(f'--map: {part.strip()!r} is not COLUMN=TARGET (e.g. "E-mail=email")')
        pairs[column.strip()] = target.strip()
    return pairs


def parse_list(text: str | Sequence[str] | None) -> list[str]:
    if text is None:
        return []
    if isinstance(text, str):
        return [p.strip() for p in text.split(",") if p.strip()]
    return [str(p).strip() for p in text]


def _find(column: str, columns: Sequence[str]) -> str | None:
    if column in columns:
        return column
    wanted = _key(column)
    return next((c for c in columns if _key(c) == wanted), None)


def build(
    columns: Sequence[str],
    mapped: Mapping[str, str],
    ignore: Sequence[str] = (),
    known_fields: Collection[str] | None = None,
) -> ColumnMap:
    """The column map for a file with ``columns``; InputError listing every problem in words."""
    problems: list[str] = []
    targets: dict[str, str] = {}
    for given, target in mapped.items():
        column = _find(given, columns)
        if column is None:
            problems.append(
                f"--map names a column {given!r} the file does not have (it has: {', '.join(columns)})"
            )
            continue
        if target not in BUILTIN_TARGETS and not FIELD_NAME.fullmatch(target):
            problems.append(
                f"--map {given}={target}: a target is email, first_name, last_name, language or a field"
                " name in lowercase letters, digits and _"
            )
            continue
        if target not in BUILTIN_TARGETS and known_fields is not None and target not in known_fields:
            shown = ", ".join(sorted(known_fields)) or "none"
            problems.append(f"--map {given}={target}: the form has no field {target!r} (its fields: {shown})")
            continue
        targets[column] = target
    ignored: list[str] = []
    for given in ignore:
        column = _find(given, columns)
        if column is None:
            problems.append(f"--ignore names a column {given!r} the file does not have")
        else:
            ignored.append(column)
    recognised: list[str] = []
    taken = set(targets.values())
    for column in columns:
        if column in targets or column in ignored or not column:
            continue
        found = _RECOGNISED.get(_key(column))
        if found is not None and found not in taken:
            targets[column] = found
            taken.add(found)
            recognised.append(column)
    doubled = sorted({t for t in targets.values() if list(targets.values()).count(t) > 1})
    for target in doubled:
        both = [c for c, t in targets.items() if t == target]
        problems.append(f"columns {', '.join(both)} all map to {target}: --ignore all but one")
    if "email" not in targets.values():
        problems.append(
            f"no column holds the email address (columns: {', '.join(columns)}); name it with"
            ' --map "COLUMN=email"'
        )
    unknown = [c for c in columns if c and c not in targets and c not in ignored]
    if unknown:
        problems.append(
            f"columns not mapped: {', '.join(unknown)}. Map each to a field of the form"
            f' (--map "{unknown[0]}=field_name") or leave it out (--ignore "{unknown[0]}")'
        )
    if problems:
        raise InputError("; ".join(problems))
    return ColumnMap(targets, tuple(ignored), tuple(recognised))


@dataclass(frozen=True)
class Mapped:
    """One row in our terms."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


def apply(columns: ColumnMap, values: Mapping[str, str]) -> Mapped | str:
    """The row's values under their targets, or why the row cannot be imported (in words)."""
    unknown = [k for k in values if k not in columns.targets and k not in columns.ignored and k]
    if unknown:
        return f"has a column the first lines did not have ({', '.join(unknown)}): map it or --ignore it"
    out: dict[str, str] = {}
    fields: dict[str, str] = {}
    for column, target in columns.targets.items():
        value = (values.get(column) or "").strip()
        if not value:
            continue
        if target in BUILTIN_TARGETS:
            out[target] = value
        elif len(value) > MAX_FIELD_VALUE:
            return f"its {column} is longer than {MAX_FIELD_VALUE} characters"
        else:
            fields[target] = value
    email = out.get("email", "")
    if not email:
        return "has no email address"
    return Mapped(email, out.get("first_name"), out.get("last_name"), out.get("language"), fields)
