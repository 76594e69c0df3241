"""``optin check-config [--show]``: whether the settings work, and where each value came from."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from service.cli.common import checked_settings
from service.settings import Settings
from service.settings_show import masked_url


def add_parser(sub: Any) -> None:
    command = sub.add_parser(
        "check-config",
        help="explain what is wrong with the settings, or what they amount to",
        description="Check the settings exactly as `optin serve` does: every problem in words,"
        " exit code 2. When they are fine, say what they amount to and where each value came from.",
    )
    command.add_argument(
        "--show", action="store_true", help="print every effective setting as TOML, secrets masked"
    )
    command.set_defaults(func=cmd_check_config)


def _kind(origin: str) -> str:
    if origin.startswith("file "):
        return "secret files"
    if origin.startswith("$"):
        return "the environment"
    if " → $" in origin:
        return "env: references"
    return origin


def _summary(settings: Settings) -> list[str]:
    server = settings.server
    lines = [f"  environment {server.environment}, public URL {server.public_url}"]
    migrate = "applied at start-up" if server.auto_migrate else "applied by `optin migrate` only"
    lines.append(f"  database: {masked_url(server.database)} (schema migrations {migrate})")
    smtp = settings.smtp
    if settings.uses_dev_mail_catcher:
        lines.append("  mail relay: none; the development mail catcher shows mail at /dev/mail")
    else:
        lines.append(
            f"  mail relay: {smtp.host}, port {smtp.port}, security {smtp.security}, sender {smtp.sender},"
            f" up to {smtp.max_connections} connection(s) at once per worker process"
        )
        if smtp.max_connections > settings.outbox.concurrency:
            lines.append(
                f"  note: smtp.max_connections is {smtp.max_connections} but outbox.concurrency"
                f" {settings.outbox.concurrency}: at most {settings.outbox.concurrency} emails go at once"
            )
    if smtp.alerts_sender:
        lines.append(f"  the owner's alerts come from {smtp.alerts_sender}")
    lines.append(f"  {_dkim_line(settings)}")
    for form in settings.forms.values():
        languages = sorted({*form.titles, *form.consent_texts} - {form.language})
        more = f" (texts also in {', '.join(languages)})" if languages else ""
        lines.append(f"  form {form.id!r}: connector {form.connector}, language {form.language}{more}")
        extras = []
        if form.fields:
            extras.append(f"fields {', '.join(f.name for f in form.fields)}")
        if form.lists:
            extras.append("lists " + ", ".join(f"{entry.name} ({entry.connector})" for entry in form.lists))
        if form.reminder_after_hours:
            extras.append(f"one reminder after {form.reminder_after_hours:g} h")
        if extras:
            lines.append(f"    {'; '.join(extras)}")
    lines += _cockpit(settings)
    if settings.demo_form:
        lines.append(
            "  note: no [forms.NAME] is configured, so the demo form 'newsletter' stands in"
            " (development only: production refuses to start without a form)"
        )
    return lines


def _cockpit(settings: Settings) -> list[str]:
    admin = settings.admin
    signers = [k.name for k in settings.admin_keys if k.scopes - {"metrics"}]
    ways = [f"keys {', '.join(signers)}"] if signers else []
    ways += ["the password"] if admin.password_hash else []
    lines = [
        f"  web admin: {'/admin, sign in with ' + ' or '.join(ways) if ways else 'off (no key or password)'}"
    ]
    readers = [k.name for k in settings.admin_keys if k.scopes & {"metrics", "admin"}]
    where = [f"with keys {', '.join(readers)}"] if readers else []
    where += [f"without a key on {admin.metrics_listen}"] if admin.metrics_listen else []
    lines.append(f"  /metrics: {' and '.join(where) if where else 'off (no key has the metrics scope)'}")
    if admin.metrics_multiproc_dir:
        lines.append(f"  metrics of every process on this host add up in {admin.metrics_multiproc_dir}")
    if admin.daily_digest:
        lines.append(f"  daily digest to {settings.server.owner_email} from {admin.digest_hour:02d}:00 UTC")
    lines.append(f"  logs: {settings.server.log_format}")
    return lines


def _dkim_line(settings: Settings) -> str:
    dkim = settings.smtp.dkim
    if dkim is None:
        return "DKIM: not signing ([smtp.dkim] is not set; `optin dkim-keygen` makes a key)"
    from service.mail.dkim import load_key

    key = load_key(dkim.private_key)
    size = f"{key.bits}-bit RSA" if key.algorithm == "rsa" else "Ed25519"
    return f"DKIM: signing every message as d={dkim.domain}, s={dkim.selector} ({size} key)"


def _origins(settings: Settings) -> list[str]:
    counts = Counter(_kind(origin) for origin in settings.origins.values())
    if not counts:
        return ["Every setting has its default value."]
    lines = ["Where the values came from: " + ", ".join(f"{n} from {kind}" for kind, n in counts.items())]
    outside = {path: o for path, o in settings.origins.items() if _kind(o) != o}
    width = max((len(p) for p in outside), default=0)
    lines += [f"  {path:<{width}}  {origin}" for path, origin in sorted(outside.items())]
    lines.append("Every other setting has its default (`optin check-config --show` prints them all).")
    return lines


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = checked_settings(args)
    if args.show:
        from service.settings_show import render

        print(render(settings), end="")
        return 0
    from service.store.migrate import status

    database = status(settings.server.database, settings.server.auto_migrate)  # StoreError: exit 2
    print(f"{settings.source}: OK")
    print("\n".join(_summary(settings)))
    print(f"  database check: {database}")
    print("\n".join(_origins(settings)))
    print("\n".join(_template_lint(settings)))
    return 0


def _template_lint(settings: Settings) -> list[str]:
    """What `optin serve` logs at start-up about the email templates (warnings, not problems)."""
    from service.mail.preview import template_warnings
    from service.render import Renderer
    from service.tokens import Tokens

    renderer = Renderer(settings.server.templates_dir)
    warnings = template_warnings(settings, renderer, Tokens(settings.server.secret_key))
    if not warnings:
        return ["Email templates: the template lint finds nothing to fix."]
    lines = [f"Email templates: {len(warnings)} warning(s) (`optin lint-templates` explains them):"]
    return lines + [f"  ⚠ {w}" for w in warnings]
