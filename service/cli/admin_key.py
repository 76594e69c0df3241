"""``optin admin-key NAME``: a new admin API key, shown once, and its lines for the settings file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.settings import ADMIN_SCOPES


def add_parser(sub: Any) -> None:
    command = sub.add_parser("admin-key", help="make an admin API key and print its settings lines")
    command.add_argument("name", help="a name for the key, e.g. the person or tool that uses it")
    command.add_argument(
        "--scopes", default="read", help="comma-separated: read, export, erase, admin (read)"
    )
    command.set_defaults(func=cmd_admin_key)


def cmd_admin_key(args: argparse.Namespace) -> int:
    from service.admin import new_key

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    unknown = set(scopes) - ADMIN_SCOPES
    if unknown or not scopes:
        print(f"--scopes takes some of: {', '.join(sorted(ADMIN_SCOPES))}", file=sys.stderr)
        return 2
    key, digest = new_key()
    print(f"Admin key (shown once; send it as Authorization: Bearer <key>):\n  {key}\n")
    print("Add to your settings file:")
    print(f'[admin.keys.{args.name}]\nsha256 = "{digest}"\nscopes = {scopes!r}'.replace("'", '"'))
    return 0
