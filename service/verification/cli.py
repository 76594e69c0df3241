"""``optin verify [FILE]``: verify addresses in bulk, concurrently, in input order.

Input is one address a line, or a CSV column with ``--column``; output is JSONL (one object per
input line) or CSV on stdout. A progress line goes to stderr only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
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


def _writer(out: IO[str], fmt: str) -> Callable[[Verdict], None]:
    if fmt == "jsonl":

        def write_json(verdict: Verdict) -> None:
            out.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")

        return write_json
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()

    def write_csv(verdict: Verdict) -> None:
        row = verdict.to_json()
        row["reasons"] = ";".join(row["reasons"])
        row["flags"] = ";".join(row["flags"])
        writer.writerow(row)

    return write_csv


class _Progress:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = self.last = time.monotonic()
        self.counts: Counter[str] = Counter()

    def update(self, verdict: Verdict) -> None:
        self.counts[verdict.decision] += 1
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.1:
            self.last = now
            self._draw(now)

    def _draw(self, now: float, end: str = "") -> None:
        done = sum(self.counts.values())
        rate = done / max(now - self.started, 1e-9)
        c = self.counts
        tally = f"accept {c['accept']} warn {c['warn']} reject {c['reject']}"
        self.stream.write(f"\rverified {done} ({rate:.0f}/s) {tally}{end}")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic(), "\n")


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


def run(args: argparse.Namespace) -> int:
    """Entry point of ``optin verify``; returns the exit status (2 for unusable input)."""
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
    progress = _Progress(sys.stderr)
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
    except ConfigError as exc:
        print(f"optin verify: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.finish()
        sys.stdout.flush()
    return 0
