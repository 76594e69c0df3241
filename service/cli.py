"""The ``optin`` command: serve, check-config, smtp-test, outbox, export (and verify)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from service.errors import ConfigError, MailError
from service.logs import configure_logging
from service.settings import Settings, load_settings
from service.verification.cli import add_parser as add_verify


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app

    settings = _settings(args)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    configure_logging()
    print(f"optin ({settings.server.environment}) on http://{host}:{port} — settings: {settings.source}")
    if settings.uses_dev_mail_catcher:
        print(f"No SMTP relay configured: mail is caught and shown at {settings.server.public_url}/dev/mail")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        server_header=False,
        log_config=None,
        proxy_headers=False,  # only server.trusted_proxies decides who the client is
    )
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from service.app import build_connectors

    build_connectors(settings)
    print(f"{settings.source}: OK")
    print(f"  environment {settings.server.environment}, public URL {settings.server.public_url}")
    relay = (
        "development mail catcher"
        if settings.uses_dev_mail_catcher
        else f"{settings.smtp.host}:{settings.smtp.port}"
    )
    print(f"  mail relay: {relay}")
    for form in settings.forms.values():
        print(f"  form {form.id!r}: connector {form.connector}, language {form.language}")
    return 0


async def _smtp_test(settings: Settings, host: str | None) -> int:
    from service.mail.smtp import AUTO_ORDER, Route, SmtpMailer

    if settings.uses_dev_mail_catcher and not host:
        print(
            "No [smtp] host is configured (development uses the built-in mail catcher). Pass --host to test a relay."
        )
        return 1
    mailer = SmtpMailer(settings.smtp, host=host)
    working = []
    for port, mode in AUTO_ORDER:
        route = Route(port, mode)
        try:
            methods = await mailer.probe(route)
        except MailError as exc:
            print(f"  {route}: does not work — {exc.detail}")
            continue
        auth = "authenticated" if settings.smtp.username else f"AUTH methods offered: {methods}"
        print(f"  {route}: works — TLS established, {auth}")
        working.append(route)
    if working:
        print(f'Use port = {working[0].port} (or keep port = "auto", which finds it by itself).')
        return 0
    print(
        f"None of 587, 465 and 2525 works on {host or settings.smtp.host}: check the host name and your firewall."
    )
    return 1


def cmd_smtp_test(args: argparse.Namespace) -> int:
    return asyncio.run(_smtp_test(_settings(args), args.host))


async def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    from service.store import open_store

    store = await open_store(settings.server.database)
    try:
        now = time.time()
        if args.action == "retry":
            ids = [j.id for j in await store.jobs("dead", 10_000)] if args.all_dead else args.ids
            done = [i for i in ids if await store.retry_job(i, now)]
            print(f"queued again: {len(done)} job(s)" + (f" ({', '.join(map(str, done))})" if done else ""))
            return 0 if done or not ids else 1
        if args.action == "drop":
            done = [i for i in args.ids if await store.drop_job(i, now)]
            print(f"dropped: {len(done)} job(s)")
            return 0 if len(done) == len(args.ids) else 1
        counts = await store.job_counts()
        print(
            "outbox: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "done", "dead", "dropped"))
        )
        for job in await store.jobs(args.state, args.limit):
            due = datetime.fromtimestamp(job.run_at, UTC).isoformat(timespec="seconds")
            line = f"  #{job.id} {job.kind:<22} {job.state:<8} attempts={job.attempts} next={due}"
            print(line + (f"\n      last: {job.last_error}" if job.last_error else ""))
        return 0
    finally:
        await store.close()


def cmd_outbox(args: argparse.Namespace) -> int:
    return asyncio.run(_outbox(_settings(args), args))


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
    settings = _settings(args)
    if args.output == "-":
        return asyncio.run(_export(settings, args, sys.stdout))
    with open(args.output, "w", newline="", encoding="utf-8") as out:
        return asyncio.run(_export(settings, args, out))


async def _contacts(settings: Settings, args: argparse.Namespace) -> int:
    import json

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
    return asyncio.run(_contacts(_settings(args), args))


def cmd_admin_key(args: argparse.Namespace) -> int:
    from service.admin import new_key
    from service.settings import ADMIN_SCOPES

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
    return asyncio.run(_purge(_settings(args)))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="optin", description="Self-hosted double opt-in signups.")
    top.add_argument(
        "--config", help="TOML settings file (default: $OPTIN_CONFIG, else development defaults)"
    )
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("check-config", help="explain what is wrong with the settings").set_defaults(
        func=cmd_check_config
    )

    smtp = sub.add_parser("smtp-test", help="which of ports 587, 465 and 2525 work with your relay")
    smtp.add_argument("--host", help="relay host (default: [smtp] host)")
    smtp.set_defaults(func=cmd_smtp_test)

    outbox = sub.add_parser("outbox", help="list, retry or drop queued emails and list updates")
    outbox.add_argument("action", nargs="?", choices=["list", "retry", "drop"], default="list")
    outbox.add_argument("ids", nargs="*", type=int, help="job ids for retry/drop")
    outbox.add_argument("--state", choices=["pending", "done", "dead", "dropped"])
    outbox.add_argument("--limit", type=int, default=50)
    outbox.add_argument("--all-dead", action="store_true", help="with retry: every dead job")
    outbox.set_defaults(func=cmd_outbox)

    export = sub.add_parser("export", help="contacts and their consent as CSV")
    export.add_argument("--form")
    export.add_argument("--status", choices=["pending", "confirmed", "unsubscribed"])
    export.add_argument("-o", "--output", default="-")
    export.set_defaults(func=cmd_export)

    contacts = sub.add_parser("contacts", help="a person's data: export it or erase it")
    contacts.add_argument("action", choices=["export", "erase"])
    contacts.add_argument("email")
    contacts.add_argument("--yes", action="store_true", help="with erase: really erase")
    contacts.set_defaults(func=cmd_contacts)

    admin_key = sub.add_parser("admin-key", help="make an admin API key and print its settings lines")
    admin_key.add_argument("name")
    admin_key.add_argument("--scopes", default="read", help="comma-separated: read, export, erase, admin")
    admin_key.set_defaults(func=cmd_admin_key)

    sub.add_parser("purge", help="apply the retention period now").set_defaults(func=cmd_purge)

    add_verify(sub)
    from service.connectors.cli import add_parser as add_connectors

    add_connectors(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print("The configuration cannot be used:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result
