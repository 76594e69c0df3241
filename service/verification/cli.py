"""``optin verify [FILE]``: verify addresses in bulk, concurrently, in input order.

Input is one address a line, or a CSV column with ``--column``; output is JSONL (one object per
input line) or CSV on stdout. On stderr: a progress bar when it is a terminal, and always a
closing summary (accepted, warned, rejected, unknown, time).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import shutil
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring
from typing import IO, Any

from service.errors import ConfigError
from service.verification.config import VerifierConfig
from service.verification.engine import Verifier
from service.verification.verdict import Policy, Verdict

CSV_FIELDS = ("input", "normalized", "status", "decision", "reasons", "flags", "suggestion", "message")


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register ``verify`` on the ``optin`` command line."""
    parser = subparsers.add_parser(
        "verify",
        help="verify email addresses in bulk (syntax, DNS, lists, typos)",
        description="Verify addresses from FILE (or stdin): one per line, or a CSV column with --column.",
    )
    parser.add_argument("file", nargs="?", default="-", help="input file; '-' or nothing reads stdin")
    parser.add_argument("--column", help="read FILE as CSV with a header and verify this column")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format (jsonl)")
    parser.add_argument(
        "--nameserver",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="DNS server to ask, repeatable (default: [dns] nameservers, else the system's)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="addresses checked at once (64)")
    parser.add_argument("--deadline", type=float, help="seconds allowed per address")
    parser.add_argument("--form", help="decide with this form's [forms.NAME.verification] policy")
    parser.add_argument(
        "--version-info",
        action="store_true",
        help="say which lists (disposable domains, public suffixes, roles, providers) and versions are used",
    )
    parser.set_defaults(func=run)


def _open_input(path: str) -> IO[str]:
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # stdin replaced by a text stream (tests, embedding)
            return sys.stdin
        return io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def _rows(stream: IO[str], column: str | None) -> Iterator[str]:
    if column is None:
        for line in stream:
            yield line.rstrip("\r\n")
        return
    reader = csv.DictReader(stream)
    if reader.fieldnames is None or column not in reader.fieldnames:
        found = ", ".join(reader.fieldnames or []) or "no header"
        raise ConfigError(f"the CSV has no column {column!r} (found: {found})")
    for row in reader:
        yield row.get(column) or ""


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


class JsonLines:
    """``Verdict.to_json()`` as one JSON line each, as ``json.dumps`` writes it, but cheaper.

    Verdicts from the warm cache share their findings (the same tuples and sets), so the middle
    of the line (status, decision, reasons, flags) is encoded once per distinct finding; the
    strings around it go through the json module's own C escaper. Lines are written in blocks.
    """

    BLOCK = 512

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._middles: dict[tuple[str, str, tuple[str, ...], frozenset[str]], str] = {}
        self._pending: list[str] = []

    def _middle(self, v: Verdict) -> str:
        key = (v.status, v.decision, v.reasons, v.flags)
        middle = self._middles.get(key)
        if middle is None:
            middle = json.dumps(
                {
                    "status": v.status,
                    "decision": v.decision,
                    "reasons": list(v.reasons),
                    "flags": sorted(v.flags),
                },
                ensure_ascii=False,
            )[1:-1]
            if len(self._middles) < 10_000:
                self._middles[key] = middle
        return middle

    def __call__(self, v: Verdict) -> None:
        self._pending.append(
            f'{{"input": {encode_basestring(v.input)}, "normalized": {_text(v.normalized)}, {self._middle(v)},'
            f' "suggestion": {_text(v.suggestion)}, "message": {encode_basestring(v.message)},'
            f' "elapsed_ms": {round(v.elapsed_ms, 2)!r}}}\n'
        )
        if len(self._pending) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.out.write("".join(self._pending))
            self._pending.clear()


def _writer(out: IO[str], fmt: str) -> Callable[[Verdict], None]:
    if fmt == "jsonl":
        return JsonLines(out)
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()

    def write_csv(verdict: Verdict) -> None:
        row = verdict.to_json()
        row["reasons"] = ";".join(row["reasons"])
        row["flags"] = ";".join(row["flags"])
        writer.writerow(row)

    return write_csv


def count_rows(path: str, column: str | None) -> int | None:
    """How many addresses a file holds (its lines, less a CSV header); None for stdin."""
    if path == "-":
        return None
    lines, last = 0, b"\n"
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"
    return max(lines - (column is not None), 0)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """On a terminal, a progress bar (count, total, rate, ETA) redrawn at most ten times a
    second once the run lasts; always, at the end, a summary of the decisions on stderr."""

    DELAY = 0.3  # short runs show only the summary

    def __init__(self, stream: IO[str], total: int | None = None) -> None:
        self.stream = stream
        self.total = total
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.last = self.started
        self.drawn = False
        self.counts: Counter[str] = Counter()
        self.unknown = 0

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def update(self, verdict: Verdict) -> None:
        self.counts[verdict.decision] += 1
        self.unknown += verdict.status == "unknown"
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last >= 0.1 and now - self.started >= self.DELAY:
            self.last = now
            self.draw(now)

    def bar(self, now: float) -> str:
        done, elapsed = self.done, max(now - self.started, 1e-9)
        rate = done / elapsed
        if not self.total:
            return f"verified {done:,}  {rate:,.0f}/s  {_duration(elapsed)}"
        share = min(done / self.total, 1.0)
        filled = int(share * 24)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        return (
            f"[{'#' * filled}{'.' * (24 - filled)}] {done:,}/{self.total:,} {share:4.0%}"
            f"  {rate:,.0f}/s  ETA {_duration(eta)}"
        )

    def draw(self, now: float) -> None:
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.stream.write("\r" + self.bar(now)[:width] + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def summary(self, now: float) -> str:
        c, elapsed = self.counts, now - self.started
        rate = f" ({self.done / elapsed:,.0f}/s)" if elapsed >= 1 else ""
        unknown = f"; {self.unknown:,} could not be checked (unknown)" if self.unknown else ""
        return (
            f"verified {self.done:,} address(es) in {elapsed:.1f} s{rate}: {c['accept']:,} accepted,"
            f" {c['warn']:,} warned, {c['reject']:,} rejected{unknown}"
        )

    def finish(self, summary: bool = True) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
        if summary:
            self.stream.write(self.summary(time.monotonic()) + "\n")
        self.stream.flush()


async def verify_all(
    values: Iterable[str],
    verifier: Verifier,
    write: Callable[[Verdict], None],
    *,
    policy: Policy | None = None,
    concurrency: int = 64,
) -> None:
    """Verify ``values`` with at most ``concurrency`` in flight; ``write`` gets them in input order."""
    pending: deque[asyncio.Future[Verdict]] = deque()
    loop = asyncio.get_running_loop()
    for value in values:
        verdict = verifier.verify_cached(value, policy)  # warm cache: no task, no I/O
        if verdict is not None and not pending:
            write(verdict)
            continue
        if verdict is None:
            pending.append(asyncio.ensure_future(verifier.verify(value, policy)))
        else:
            done = loop.create_future()
            done.set_result(verdict)
            pending.append(done)
        if len(pending) >= concurrency:
            write(await pending.popleft())
    while pending:
        write(await pending.popleft())


def _from_settings(args: argparse.Namespace) -> tuple[VerifierConfig, Policy | None]:
    """The engine settings and the form's policy: from ``args.verifier_config`` / ``args.policy``
    when the caller set them, else from the settings file named by ``--config``, else defaults."""
    config: VerifierConfig | None = getattr(args, "verifier_config", None)
    policy: Policy | None = getattr(args, "policy", None)
    form = getattr(args, "form", None)
    if config is None and (getattr(args, "config", None) or form):
        from service.settings import load_settings

        settings = load_settings(getattr(args, "config", None))
        config = settings.verifier
        if form:
            if form not in settings.forms:
                raise ConfigError(f"there is no form {form!r} (found: {', '.join(settings.forms) or 'none'})")
            policy = settings.forms[form].policy
    return config or VerifierConfig(), policy


def version_info() -> str:
    """Which lists and versions a verdict depends on, one per line."""
    from service.verification.lists import sources

    lines = []
    for name, entry in sources().items():
        details = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in ("source", "version"))
        lines.append(
            f"{name}: {entry['source']}; version {entry['version']}" + (f"; {details}" if details else "")
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``optin verify``; returns the exit status (2 for unusable input)."""
    if getattr(args, "version_info", False):
        print(version_info())
        return 0
    try:
        base, policy = _from_settings(args)
        changes: dict[str, Any] = {}
        if args.nameserver:
            changes["nameservers"] = tuple(args.nameserver)
        if args.deadline:
            changes["deadline"] = args.deadline
        config = base.replace(**changes)
        if args.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        stream = _open_input(args.file)
    except (ConfigError, OSError) as exc:
        print(f"optin verify: {exc}", file=sys.stderr)
        return 2
    try:
        total = count_rows(args.file, args.column)
    except OSError:
        total = None
    progress = Progress(sys.stderr, total)
    write = _writer(sys.stdout, args.format)

    def emit(verdict: Verdict) -> None:
        write(verdict)
        progress.update(verdict)

    async def main() -> None:
        verifier = Verifier(config)
        try:
            await verify_all(
                _rows(stream, args.column), verifier, emit, policy=policy, concurrency=args.concurrency
            )
        finally:
            await verifier.aclose()

    try:
        with stream:
            asyncio.run(main())
        flush = getattr(write, "flush", None)
        if flush is not None:
            flush()
        sys.stdout.flush()
    except ConfigError as exc:
        progress.finish(summary=False)
        print(f"optin verify: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped (`optin verify … | head`): end quietly; `optin`'s main silences stdout.
        progress.finish(summary=False)
        raise
    progress.finish()
    return 0
