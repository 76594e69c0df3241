"""``optin imports list|run|pause|resume``: the recurring imports, as the owner manages them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from service.ledger import iso
from service.settings import Settings
from service.store import Transaction, open_store
from service.store import imports as sql


def _when(stamp: float | None) -> str:
    text = iso(stamp)
    return text.replace("T", " ").replace("+00:00", " UTC") if text else "never"


def _every(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


async def imports_command(settings: Settings, action: str, name: str | None) -> int:
    if action != "list" and name not in settings.imports:
        known = ", ".join(settings.imports) or "none is configured"
        print(f"There is no [imports.{name}] (imports: {known}).", file=sys.stderr)
        return 2
    store = await open_store(settings.server.database, settings.server.auto_migrate)
    try:
        if action == "list":
            return await _list(settings, store)
        if action in ("pause", "resume"):
            now = time.time()
            await store.write(lambda tx: sql.set_paused(tx, str(name), action == "pause", now))
            print(
                f"import {name}: {'paused' if action == 'pause' else 'resumed; it runs at its next period'}"
            )
            return 0
        return await _run(settings, store, str(name))
    finally:
        await store.close()


def _last_runs(name: str) -> Callable[[Transaction], list[sql.ImportRun]]:
    return lambda tx: sql.runs(tx, name, 3)


async def _list(settings: Settings, store: object) -> int:
    from service.store import Store

    assert isinstance(store, Store)
    if not settings.imports:
        print(
            "No recurring import is configured ([imports.NAME] in the settings); `optin import FILE` imports once."
        )
        return 0
    paused = await store.read(sql.paused)
    for imp in settings.imports.values():
        state = "paused" if imp.name in paused else "enabled" if imp.enabled else "disabled (enabled = false)"
        print(
            f"{imp.name}: {state}; every {_every(imp.every)} from {imp.source} → form {imp.form!r}"
            f" ({imp.policy}, at most {imp.max_rows:,} rows)"
        )
        for run in await store.read(_last_runs(imp.name)):
            outcome = run.state.upper() + (f" — {run.error}" if run.error else "")
            print(f"  {_when(run.started_at)} ({run.started_by}): {outcome}")
            if run.notes:
                print(f"    {run.notes}")
        if imp.name in paused:
            print(f"  paused since {_when(paused[imp.name])}")
    return 0


async def _run(settings: Settings, store: object, name: str) -> int:
    from service.cli.imports import os_user
    from service.imports.schedule import ImportScheduler
    from service.store import Store
    from service.verification import Verifier

    assert isinstance(store, Store)
    verifier = Verifier(settings.verifier)
    try:
        summary = await ImportScheduler(settings, store, verifier).run_now(name, f"hand:{os_user()}")
    finally:
        await verifier.aclose()
    if summary is None:
        last = (await store.read(lambda tx: sql.runs(tx, name, 1)))[0]
        print(f"import {name} FAILED: {last.error}", file=sys.stderr)
        return 1
    print(f"import {name}: {summary.line()}")
    return 0
