"""``optin preview`` (one email as it would be sent) and ``optin lint-templates`` (every email)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from service.cli.common import checked_settings
from service.mail.preview import KINDS, VARIABLES, Preview, every_preview, render_preview, where
from service.render import Renderer
from service.settings import LANGUAGES, Settings
from service.store import ContactRow
from service.tokens import Tokens


def add_parser(sub: Any) -> None:
    preview = sub.add_parser(
        "preview",
        help="render an email exactly as it would be sent",
        description="Render an email as optin would send it: subject and headers (DKIM signature"
        " included when a key is configured) and the text part on stdout, the HTML part in a file,"
        " the variables its templates may use, and what the template lint finds. Its links look"
        " like real ones but change nothing.",
    )
    preview.add_argument("kind", choices=KINDS, help="which email")
    preview.add_argument("--form", help="the form (default: the only one, if there is one)")
    preview.add_argument("--lang", choices=LANGUAGES, help="the language (default: the form's)")
    who = preview.add_mutually_exclusive_group()
    who.add_argument("--contact", metavar="EMAIL", help="with this contact's values (name, address)")
    who.add_argument("--sample", action="store_true", help="with realistic sample values (the default)")
    preview.add_argument(
        "--html",
        metavar="FILE",
        help="where to write the HTML part (default: optin-preview-KIND-FORM-LANG.html)",
    )
    preview.set_defaults(func=cmd_preview)

    lint = sub.add_parser(
        "lint-templates",
        help="check every email template for what makes mail land in spam",
        description="Render every email (each form's confirmation and welcome in every language,"
        " and the owner's alert) with sample values, and list what the template lint finds:"
        " risky words (subject and body; extend them with [lint] risky_words_file), capitals"
        ' or "!!!" subjects, subject length, a missing text part, misleading links, URL shorteners,'
        " images without alt, calls to action. Exit code 0 when nothing is found, 1 otherwise.",
    )
    lint.set_defaults(func=cmd_lint_templates)


def _form(settings: Settings, requested: str | None) -> str:
    if requested:
        if requested not in settings.forms:
            known = ", ".join(sorted(settings.forms))
            raise SystemExit(f"no form is called {requested!r}; the forms are: {known}")
        return requested
    if len(settings.forms) == 1:
        return next(iter(settings.forms))
    raise SystemExit(f"say which form: --form {' | '.join(sorted(settings.forms))}")


async def _contact(settings: Settings, email: str, form_id: str) -> ContactRow | None:
    from service.store import open_store

    store = await open_store(settings.server.database, settings.server.auto_migrate)
    try:
        found = [c for c in await store.contacts_with_email(email) if c.form_id == form_id]
    finally:
        await store.close()
    return found[-1] if found else None


def _print_preview(preview: Preview, html_path: Path) -> None:
    print("Headers, as sent:")
    for name, value in preview.headers:
        print(f"  {name}: {' '.join(value.split())}")
    print()
    print(preview.body("plain"), end="" if preview.body("plain").endswith("\n") else "\n")
    print()
    html_path.write_text(preview.body("html"), encoding="utf-8")
    print(f"The HTML part is in {html_path} (open it in a browser).")
    print(f"\nVariables the {preview.kind} templates may use:")
    width = max(len(name) for name in VARIABLES[preview.kind])
    for name, meaning in VARIABLES[preview.kind].items():
        print(f"  {name:<{width}}  {meaning}")
    if preview.findings:
        print(f"\nThe template lint found {len(preview.findings)} thing(s) to fix:")
        for finding in preview.findings:
            print(f"  ⚠ {finding}")
    else:
        print("\nThe template lint found nothing to fix.")


def cmd_preview(args: argparse.Namespace) -> int:
    settings = checked_settings(args)
    form_id = "" if args.kind == "alert" else _form(settings, args.form)
    language = args.lang or (settings.forms[form_id].language if form_id else "en")
    contact = None
    if args.contact:
        if args.kind == "alert":
            raise SystemExit("the alert goes to server.owner_email: --contact does not apply to it")
        contact = asyncio.run(_contact(settings, args.contact, form_id))
        if contact is None:
            print(
                f"no contact with the address {args.contact} signed up on the form {form_id!r}",
                file=sys.stderr,
            )
            return 1
    renderer = Renderer(settings.server.templates_dir)
    preview = render_preview(
        settings, renderer, Tokens(settings.server.secret_key), args.kind, form_id, language, contact
    )
    html_path = Path(
        args.html or f"optin-preview-{args.kind}{'-' + form_id if form_id else ''}-{language}.html"
    )
    _print_preview(preview, html_path)
    return 0


def cmd_lint_templates(args: argparse.Namespace) -> int:
    settings = checked_settings(args)
    renderer = Renderer(settings.server.templates_dir)
    results = every_preview(settings, renderer, Tokens(settings.server.secret_key))
    count = flagged = 0
    for result in results:
        if isinstance(result, str):
            print(f"✗ {result}")
            count, flagged = count + 1, flagged + 1
        elif result.findings:
            print(f"✗ {where(result)} — subject {result.subject!r}")
            for finding in result.findings:
                print(f"    ⚠ {finding}")
            count, flagged = count + len(result.findings), flagged + 1
    print(
        f"{len(results)} email(s) checked (templates in {settings.server.templates_dir}):"
        f" {f'{count} finding(s) in {flagged} email(s)' if count else 'nothing to fix'}"
    )
    return 1 if count else 0
