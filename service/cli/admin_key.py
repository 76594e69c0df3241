"""``optin admin-key NAME`` and ``optin admin-password``: credentials for the admin, as settings lines.

A key is shown once, with the SHA-256 to configure; a password is read without echo (or from
standard input) and only its argon2id hash is printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.settings import ADMIN_SCOPES


def add_parser(sub: Any) -> None:
    command = sub.add_parser("admin-key", help="make an admin API key and print its settings lines")
    command.add_argument("name", help="a name for the key, e.g. the person or tool that uses it")
    command.add_argument(
        "--scopes", default="read", help="comma-separated: read, export, erase, metrics, admin (read)"
    )
    command.set_defaults(func=cmd_admin_key)
    password = sub.add_parser(
        "admin-password",
        help="hash a password for the web admin's sign-in (admin.password_hash)",
        description="Read a password (typed without echo, or one line on standard input) and print"
        " its argon2id hash for admin.password_hash. The password itself is never stored.",
    )
    password.set_defaults(func=cmd_admin_password)


MIN_PASSWORD = 12


def cmd_admin_password(args: argparse.Namespace) -> int:
    import getpass

    from argon2 import PasswordHasher

    if sys.stdin.isatty():
        password = getpass.getpass("Password for the web admin: ")
        if getpass.getpass("The same again: ") != password:
            print("The two passwords differ; nothing was printed.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        print(
            f"Use at least {MIN_PASSWORD} characters (a passphrase of a few words is best).", file=sys.stderr
        )
        return 1
    digest = PasswordHasher().hash(password)
    print("Add to your settings file (it signs in with every scope):")
    print(f'[admin]\npassword_hash = "{digest}"')
    return 0


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
