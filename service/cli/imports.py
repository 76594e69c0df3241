"""``optin import FILE`` (bring contacts in once) and ``optin imports list|run|pause|resume``
(the recurring imports of ``[imports.NAME]``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import shutil
import sys
import time
from pathlib import Path
from typing import IO, Any

from service.cli.common import checked_settings
from service.errors import InputError
from service.settings import Settings

POLICY_HELP = (
    "add_update: add new contacts and update existing ones; add_only: leave existing ones unchanged;"
    " update_only: only update contacts already on the list"
)


def add_parser(sub: Any) -> None:
    one = sub.add_parser(
        "import",
        help="bring existing contacts in from a CSV or JSON Lines file, verified",
        description=(
            "Import contacts from FILE (CSV with any delimiter, UTF-8 or Latin-1, or JSON Lines) into a"
            " form's list. Every address is verified with the form's policy; rows of one mailbox are"
            " merged; unsubscribed and erased people are never added back."
        ),
    )
    one.add_argument("file", help="the export to import")
    one.add_argument("--form", required=True, help="the form whose list receives the contacts")
    one.add_argument("--connector", help="push to this connector instead of the form's")
    one.add_argument(
        "--policy", required=True, choices=["add_update", "add_only", "update_only"], help=POLICY_HELP
    )
    one.add_argument(
        "--permission",
        required=True,
        metavar="TEXT",
        help="how you have these people's permission; kept in each contact's consent ledger",
    )
    one.add_argument(
        "--map",
        default="",
        metavar="COLUMN=TARGET,…",
        help='columns to email, first_name, last_name, language or a form field (e.g. "Société=company")',
    )
    one.add_argument("--ignore", default="", metavar="COLUMN,…", help="columns to leave out")
    one.add_argument(
        "--reconfirm",
        action="store_true",
        help="send each new contact a double opt-in email instead of importing them as confirmed",
    )
    one.add_argument(
        "--emails-per-minute",
        type=float,
        default=100.0,
        help="with --reconfirm: pace of the confirmation emails (100)",
    )
    one.add_argument("--dry-run", action="store_true", help="verify and decide everything, change nothing")
    one.add_argument(
        "--report", metavar="FILE", help="CSV of every row not imported (default: FILE.report.csv)"
    )
    one.add_argument("--by", help="who runs the import, for the ledger (default: your user name)")
    one.set_defaults(func=cmd_import)

    many = sub.add_parser("imports", help="recurring imports ([imports.NAME]): list, run, pause, resume")
    actions = many.add_subparsers(dest="imports_action", required=True)
    listing = actions.add_parser("list", help="each import, its schedule, its last runs")
    listing.set_defaults(func=cmd_imports)
    for action, text in (
        ("run", "run an import now (once, whatever its schedule)"),
        ("pause", "stop running an import on schedule"),
        ("resume", "run a paused import on schedule again"),
    ):
        command = actions.add_parser(action, help=text)
        command.add_argument("name", help="the import's NAME in [imports.NAME]")
        command.set_defaults(func=cmd_imports)


def os_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid {os.getuid()}"


class RowProgress:
    """On a terminal: rows done of the total, rate and time left, redrawn a few times a second."""

    def __init__(self, stream: IO[str], total: int | None) -> None:
        from service.verification.cli import _duration

        self.stream, self.total, self.duration = stream, total, _duration
        self.enabled = stream.isatty()
        self.started = self.last = time.monotonic()
        self.drawn = False

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.1:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        if self.total:
            share = min(done / self.total, 1.0)
            eta = (self.total - done) / rate if rate else 0.0
            text = (
                f"[{'#' * int(share * 24)}{'.' * (24 - int(share * 24))}] {done:,}/{self.total:,}"
                f"  {rate:,.0f} rows/s  ETA {self.duration(eta)}"
            )
        else:
            text = f"imported {done:,} rows  {rate:,.0f}/s"
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.stream.write("\r" + text[:width] + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    from service.imports.mapping import parse_list, parse_pairs
    from service.imports.runner import ImportRequest, ImportRunner, Report
    from service.imports.session import recorded_run
    from service.store import open_store
    from service.verification import Verifier
    from service.verification.cli import count_rows

    path = Path(args.file)
    report_path = Path(args.report) if args.report else path.with_name(path.name + ".report.csv")
    request = ImportRequest(
        path=path,
        form_id=args.form,
        policy=args.policy,
        permission=args.permission,
        by=args.by or os_user(),
        connector=args.connector,
        mapped=parse_pairs(args.map),
        ignore=tuple(parse_list(args.ignore)),
        reconfirm=args.reconfirm,
        dry_run=args.dry_run,
        started_by=f"cli:{args.by or os_user()}",
    )
    store = await open_store(settings.server.database, settings.server.auto_migrate)
    verifier = Verifier(settings.verifier)
    progress = RowProgress(sys.stderr, count_rows(str(path), "header"))
    try:
        runner = ImportRunner(settings, store, verifier, emails_per_minute=args.emails_per_minute)
        with report_path.open("w", newline="", encoding="utf-8") as out:
            summary = await recorded_run(runner, request, Report(out), progress, record=not args.dry_run)
    finally:
        progress.clear()
        await verifier.aclose()
        await store.close()
    for notice in summary.notices:
        print(f"note: {notice}", file=sys.stderr)
    what = "would import (dry run, nothing changed)" if args.dry_run else "imported"
    print(f"{what} {path.name} (SHA-256 {summary.sha256[:16]}…) into form {args.form!r}: {summary.line()}")
    print(f"columns: {summary.columns}")
    if summary.reasons:
        print(f"not imported: {summary.reasons_line()}")
    print(f"report of the rows not imported or imported with a warning: {report_path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if not Path(args.file).is_file():
        print(f"optin import: {args.file} is not a file", file=sys.stderr)
        return 2
    settings = checked_settings(args)
    try:
        return asyncio.run(_import(settings, args))
    except InputError as exc:
        print(f"optin import: {exc}", file=sys.stderr)
        return 2


def cmd_imports(args: argparse.Namespace) -> int:
    from service.imports.commands import imports_command

    return asyncio.run(
        imports_command(checked_settings(args), args.imports_action, getattr(args, "name", None))
    )
