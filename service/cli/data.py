"""The data optin holds: ``export`` (every contact), ``contacts`` (one person), ``purge``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from service.cli.common import checked_settings
from service.settings import Settings


def add_parser(sub: Any) -> None:
    export = sub.add_parser("export", help="contacts and their consent as CSV")
    export.add_argument("--form", help="only this form's contacts")
    export.add_argument(
        "--status", choices=["pending", "confirmed", "unsubscribed"], help="only contacts in this state"
    )
    export.add_argument("-o", "--output", default="-", help="CSV file to write ('-', the default: stdout)")
    export.set_defaults(func=cmd_export)

    contacts = sub.add_parser("contacts", help="a person's data: export it or erase it")
    contacts.add_argument("action", choices=["export", "erase"], help="print everything held, or erase it")
    contacts.add_argument("email", help="the person's address")
    contacts.add_argument("--yes", action="store_true", help="with erase: really erase")
    contacts.set_defaults(func=cmd_contacts)

    purge = sub.add_parser("purge", help="apply the retention period now")
    purge.set_defaults(func=cmd_purge)


async def _export(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from service.export import write_csv
    from service.store import open_store

    store = await open_store(settings.server.database)
    try:
        count = await write_csv(store, out, args.form, args.status)
    finally:
        await store.close()
    print(f"exported {count} contact(s)", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    settings = checked_settings(args)
    if args.output == "-":
        return asyncio.run(_export(settings, args, sys.stdout))
    with open(args.output, "w", newline="", encoding="utf-8") as out:
        return asyncio.run(_export(settings, args, out))


async def _contacts(settings: Settings, args: argparse.Namespace) -> int:
    from service.privacy import erase_contact, export_contact
    from service.store import open_store

    store = await open_store(settings.server.database)
    try:
        if args.action == "export":
            document = await export_contact(store, settings.server.secret_key, args.email)
            if document is None:
                print(f"no contact has the address {args.email}", file=sys.stderr)
                return 1
            print(json.dumps(document, indent=2, ensure_ascii=False))
            return 0
        if not args.yes:
            print("erasing cannot be undone: add --yes to erase", file=sys.stderr)
            return 2
        count = await erase_contact(store, settings.server.secret_key, args.email)
        print(f"erased {count} contact(s); only a keyed hash of the address remains")
        return 0
    finally:
        await store.close()


def cmd_contacts(args: argparse.Namespace) -> int:
    return asyncio.run(_contacts(checked_settings(args), args))


async def _purge(settings: Settings) -> int:
    from service.retention import purge
    from service.store import open_store

    store = await open_store(settings.server.database)
    try:
        count = await purge(store, settings, time.time())
    finally:
        await store.close()
    print(f"purged {count} never-confirmed contact(s) older than {settings.server.retention_days:g} days")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    return asyncio.run(_purge(checked_settings(args)))
