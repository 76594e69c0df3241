"""Reading an export file, streamed: CSV with any delimiter, or JSON Lines; UTF-8 (with or without
a BOM), else Latin-1, said out loud.

One pass over the bytes first computes the file's SHA-256 (recorded in every contact's ledger),
checks whether it is valid UTF-8 and keeps a sample for the CSV sniffer; the second pass yields
rows one at a time, so a file of any size costs the memory of one row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from service.errors import InputError

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines")


@dataclass(frozen=True)
class SourceInfo:
    """What the first pass learned: enough to read the file and to prove which file it was."""

    sha256: str
    encoding: str  # "utf-8-sig" (BOM or plain UTF-8) or "latin-1"
    format: str  # "csv" or "jsonl"
    delimiter: str = ","
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """One record: its number as a spreadsheet shows it (the header is row 1), its values by column,
    or why it cannot be read."""

    number: int
    values: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def inspect(path: Path) -> SourceInfo:
    """Hash the file, decide its encoding and format; raises InputError for an empty file."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, sample, size = True, b"", 0
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            if len(sample) < SAMPLE_BYTES:
                sample += chunk[: SAMPLE_BYTES - len(sample)]
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if size == 0:
        raise InputError(f"{path} is empty")
    notices: list[str] = []
    encoding = "utf-8-sig"
    if not utf8:
        encoding = "latin-1"
        notices.append(
            f"{path.name} is not valid UTF-8: read as Latin-1 (ISO-8859-1). If names look wrong,"
            " save the file as UTF-8 and import it again."
        )
    text = sample.decode(encoding, errors="ignore").lstrip("\ufeff")
    first = text.lstrip()[:1]
    if path.suffix.lower() in JSONL_SUFFIXES or first == "{":
        return SourceInfo(digest.hexdigest(), encoding, "jsonl", notices=tuple(notices))
    return SourceInfo(digest.hexdigest(), encoding, "csv", sniff_delimiter(text), tuple(notices))


def sniff_delimiter(sample: str) -> str:
    """The CSV module's sniffer, restricted to real delimiters; else the header line's most
    frequent one (the sniffer gives up on one-column files and on some quoting)."""
    lines = sample.splitlines()
    if len(sample) >= SAMPLE_BYTES and len(lines) > 1:
        sample = "\n".join(lines[:-1])  # the last line of a sample may be cut short
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _text(path: Path, info: SourceInfo) -> io.TextIOWrapper:
    return open(path, encoding=info.encoding, errors="replace", newline="")


def read(path: Path, info: SourceInfo) -> tuple[list[str], Iterator[Row]]:
    """The columns, and the rows one by one (the file stays open until they are consumed)."""
    if info.format == "jsonl":
        return _jsonl(path, info)
    return _csv(path, info)


def _csv(path: Path, info: SourceInfo) -> tuple[list[str], Iterator[Row]]:
    stream = _text(path, info)
    reader = csv.reader(stream, delimiter=info.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        stream.close()
        raise InputError(f"{path} has no header row") from None
    except csv.Error as exc:
        stream.close()
        raise InputError(f"{path}: the header row cannot be read as CSV ({exc})") from None
    columns = [c.strip().lstrip("\ufeff") for c in header]
    if len(set(columns)) != len(columns):
        stream.close()
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError(f"{path}: the header names these columns twice: {', '.join(twice)}")

    def rows() -> Iterator[Row]:
        number = 1
        with stream:
            while True:
                number += 1
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield Row(number, problem=f"cannot be read as CSV ({exc})")
                    continue
                if not any(cell.strip() for cell in record):
                    continue  # a blank line: no contact, but a spreadsheet still counts its row
                if len(record) > len(columns):
                    yield Row(number, problem=f"has {len(record)} cells but the header names {len(columns)}")
                    continue
                yield Row(number, dict(zip(columns, (c.strip() for c in record), strict=False)))

    return columns, rows()


def _jsonl(path: Path, info: SourceInfo) -> tuple[list[str], Iterator[Row]]:
    """JSON Lines: one flat object a line; the keys of the first 100 objects are the columns."""
    columns: dict[str, None] = {}
    with _text(path, info) as stream:
        for i, line in enumerate(stream):
            if i >= 100:
                break
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: a line of thousands of "["
                continue
            if isinstance(value, dict):
                columns.update(dict.fromkeys(str(k) for k in value))
    if not columns:
        raise InputError(f"{path}: no line of the first 100 is a JSON object")

    def rows() -> Iterator[Row]:
        with _text(path, info) as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError):
                    yield Row(number, problem="is not valid JSON")
                    continue
                if not isinstance(value, dict):
                    yield Row(number, problem="is not a JSON object")
                    continue
                values: dict[str, str] = {}
                for key, item in value.items():
                    if isinstance(item, dict | list):
                        yield Row(
                            number, problem=f"has a nested value under {key!r}; only flat objects import"
                        )
                        break
                    values[str(key)] = "" if item is None else str(item).strip()
                else:
                    yield Row(number, values)

    return list(columns), rows()
