"""``optin connectors status`` and ``optin connectors test FORM``.

``status`` reads the health every instance keeps in the store, plus the outbox's list jobs per
connector. ``test`` talks to the form's list for real: ``check()`` (credentials, list), then an
upsert of a clearly marked test contact, and says what the list answered. Exit code 0 or 1.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from service.connectors.base import Connector, Consent, Contact
from service.connectors.status import connectors_health
from service.errors import DeliveryError
from service.settings import Settings, load_settings

TEST_NAME = ("optin", "test contact (safe to delete)")


def add_parser(subparsers: Any) -> None:
    top = subparsers.add_parser("connectors", help="health of the list connectors; test one for real")
    actions = top.add_subparsers(dest="connectors_action", required=True)
    status = actions.add_parser("status", help="each connector's state, last success and last failure")
    status.set_defaults(func=cmd_status)
    test = actions.add_parser("test", help="check a form's list and add a marked test contact to it")
    test.add_argument("form", help="the form whose connector to test")
    test.add_argument("--email", help="address of the test contact (default: optin-test@ your domain)")
    test.add_argument("--check-only", action="store_true", help="only check credentials and list")
    test.set_defaults(func=cmd_test)


def _when(stamp: str | None) -> str:
    return stamp.replace("T", " ").replace("+00:00", " UTC") if stamp else "never"


async def _status(settings: Settings) -> int:
    from service.store import open_store

    store = await open_store(settings.server.database, settings.server.auto_migrate)
    try:
        health = await connectors_health(store, names=tuple(settings.connectors))
        counts = await store.connector_job_counts()
    finally:
        await store.close()
    if not health:
        print("No list connector is configured; contacts stay in optin's own list (optin export).")
        return 0
    for name, h in health.items():
        kind = settings.connectors.get(name, {}).get("kind", "not configured any more")
        forms = [f.id for f in settings.forms.values() if f.connector == name]
        jobs = counts.get(name, {})
        print(f"{name} ({kind}; forms: {', '.join(forms) or 'none'}): {h['state'].upper()}")
        print(
            f"  last success: {_when(h['last_success_at'])}"
            + (f" — {h['last_success']}" if h["last_success"] else "")
        )
        if h["last_failure_at"]:
            print(f"  last failure: {_when(h['last_failure_at'])} — {h['last_failure']}")
        print(
            f"  failed calls in a row: {h['consecutive_failures']}; dead letters: {h['dead_letters']};"
            f" queued: {jobs.get('pending', 0)}, dead now: {jobs.get('dead', 0)}"
        )
        if h["paused_until"]:
            print(f"  rate-limited: paused until {_when(h['paused_until'])}")
        if h["last_alert_at"]:
            print(f"  last alert: {_when(h['last_alert_at'])}")
    return 0 if all(h["state"] != "down" for h in health.values()) else 1


def cmd_status(args: argparse.Namespace) -> int:
    return asyncio.run(_status(load_settings(args.config)))


def test_contact(settings: Settings, form_id: str, language: str, email: str | None) -> Contact:
    """A contact nobody could mistake for a real subscriber."""
    domain = parseaddr(settings.server.owner_email or settings.smtp.sender)[1].rpartition("@")[2]
    now = datetime.now(UTC)
    return Contact(
        email=email or f"optin-test@{domain or 'example.com'}",
        form_id=form_id,
        language=language,
        first_name=TEST_NAME[0],
        last_name=TEST_NAME[1],
        consent=Consent(
            signed_up_at=now,
            ip=None,
            user_agent="optin connectors test",
            page_url=None,
            consent_text="test contact added by `optin connectors test`",
            confirmed_at=now,
        ),
    )


async def _test(settings: Settings, args: argparse.Namespace) -> int:
    from service.app import build_connectors

    form = settings.forms.get(args.form)
    if form is None:
        print(f"There is no form {args.form!r}; forms: {', '.join(settings.forms) or 'none'}.")
        return 1
    connectors: dict[str, Connector] = build_connectors(settings)
    connector = connectors[form.connector]
    kind = settings.connectors.get(form.connector, {}).get("kind", "builtin")
    print(f"form {form.id!r} → connector {form.connector!r} ({kind})")
    try:
        try:
            checked = await connector.check()
            print(f"  check: OK — {checked.detail}")
            if kind == "builtin" or args.check_only:
                return 0
            contact = test_contact(settings, form.id, form.language, args.email)
            result = await connector.upsert(contact, idempotency_key=f"optin-test-{int(time.time())}")
            ident = f" (id {result.remote_id})" if result.remote_id else ""
            print(f"  test upsert of {contact.email}: OK — {result.detail}{ident}")
            print(
                "  The test contact is named 'optin test contact (safe to delete)'; remove it from the list."
            )
            return 0
        except DeliveryError as exc:
            what = "permanent: fix the settings or the list" if exc.permanent else "temporary: retried later"
            wait = f"; the list asks to wait {exc.retry_after:.0f}s" if exc.retry_after else ""
            print(f"  FAILED ({what}{wait}) — {exc.detail}")
            return 1
    finally:
        for built in connectors.values():
            await built.aclose()


def cmd_test(args: argparse.Namespace) -> int:
    return asyncio.run(_test(load_settings(args.config), args))
