"""What the import tests share: settings on the loopback DNS zone, running an import in-process,
reading its report, and a small HTTP server that serves (or refuses) an export."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from service.imports.runner import ImportRequest, ImportRunner, Report, Summary
from service.imports.session import recorded_run
from service.settings import Settings
from service.store import open_store
from service.verification import Verifier
from tests.support.app_server import base_config, make_settings

PERMISSION = "Customers who ticked 'send me news' at checkout (2024-2026)"


def settings_for(db_url: str, nameserver: str, **sections: Any) -> Settings:
    return make_settings(base_config(db_url, "http://127.0.0.1:9", nameserver, **sections))


async def run_import(settings: Settings, path: Path, report: Path | None = None, **options: Any) -> Summary:
    """``optin import`` in-process: the same runner, store and verifier as the command."""
    request = ImportRequest(
        path=path,
        form_id=options.pop("form_id", "newsletter"),
        policy=options.pop("policy", "add_update"),
        permission=options.pop("permission", PERMISSION),
        by=options.pop("by", "tester"),
        **options,
    )
    store = await open_store(settings.server.database)
    verifier = Verifier(settings.verifier)
    try:
        runner = ImportRunner(settings, store, verifier, emails_per_minute=6000)
        with (report or path.with_name("report.csv")).open("w", newline="", encoding="utf-8") as out:
            return await recorded_run(runner, request, Report(out), record=not request.dry_run)
    finally:
        await store.close()


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class ExportServer:
    """An HTTP server on 127.0.0.1: ``files`` by path, ``redirects`` path -> Location, else 404."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, dict(self.headers)))
                if self.path in owner.redirects:
                    self.send_response(302)
                    self.send_header("Location", owner.redirects[self.path])
                    self.end_headers()
                    return
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404, "no such export")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def export_server() -> Iterator[ExportServer]:
    server = ExportServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
