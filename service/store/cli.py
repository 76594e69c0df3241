"""``optin migrate [--dry-run]`` and ``optin copy-db FROM TO``: the database's own commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.cli.common import checked_settings
from service.store import migrate
from service.store.copy import Copied, copy_database
from service.store.dialect import describe


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    up = subparsers.add_parser(
        "migrate",
        help="bring the database schema to this version (numbered migrations)",
        description="Apply the pending schema migrations of server.database, each in its own transaction.",
    )
    up.add_argument("--dry-run", action="store_true", help="print the SQL that would run; change nothing")
    up.set_defaults(func=cmd_migrate)

    copy = subparsers.add_parser(
        "copy-db",
        help="copy every row from one database to another (e.g. SQLite to PostgreSQL)",
        description="Copy all data from FROM into the empty database TO, keeping ids; stop optin first.",
    )
    copy.add_argument("source", metavar="FROM", help="database URL to read: sqlite:///PATH or postgresql://…")
    copy.add_argument("target", metavar="TO", help="database URL to fill (must be empty; migrated first)")
    copy.set_defaults(func=cmd_copy_db)


def cmd_migrate(args: argparse.Namespace) -> int:
    database = checked_settings(args).server.database
    report = migrate.upgrade(database, dry_run=args.dry_run)
    where = describe(database)
    if not report.migrations:
        print(f"{where}: the schema is current (version {report.expected}); nothing to do")
        return 0
    if args.dry_run:
        print(
            f"-- {where}: schema version {report.found}; these migrations would bring it to {report.expected}"
        )
        print(migrate.script(report.migrations))
        return 0
    for migration in report.migrations:
        print(f"applied {migration}")
    print(f"{where}: schema version {report.found} → {report.expected}")
    return 0


def cmd_copy_db(args: argparse.Namespace) -> int:
    def progress(copied: Copied) -> None:
        print(f"  {copied.table}: {copied.rows} row(s)", file=sys.stderr)

    print(f"copying {describe(args.source)} → {describe(args.target)}", file=sys.stderr)
    done = copy_database(args.source, args.target, progress)
    print(f"copied {sum(c.rows for c in done)} row(s) in {len(done)} tables")
    return 0
