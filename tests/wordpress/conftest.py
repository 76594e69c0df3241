"""Run the WordPress plugin under php-cli through tests/wordpress/harness.php."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from service.jobs import CONFIRMATION_EMAIL
from service.settings import Settings
from tests.support.app_server import relay_settings, serve
from tests.support.db import rows
from tests.support.relay import Relay

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = ROOT / "deploy" / "wordpress" / "optin"
HARNESS = Path(__file__).resolve().parent / "harness.php"
HOOK_SECRET = "contact-hook-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def php() -> str:
    found = shutil.which("php")
    if found is None:
        pytest.fail(
            "php is not installed: the WordPress plugin tests need Debian's php-cli"
            " (`make system-deps`, or `apt-get install -y php-cli`)"
        )
    return found


async def run_harness(php: str, state: Path, action: str, **scenario: Any) -> dict[str, Any]:
    """One php-cli run of the harness; the service keeps running in this event loop meanwhile."""
    process = await asyncio.create_subprocess_exec(
        php,
        str(HARNESS),
        json.dumps({"state": str(state), "action": action, **scenario}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"php exited with {process.returncode}: {err.decode()}\n{out.decode()}"
    assert not err, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


def wp_settings(service_url: str, secret: str = HOOK_SECRET, form_id: str = "contact") -> dict[str, str]:
    return {"service_url": service_url, "form_id": form_id, "secret": secret}


def contact_settings(db_url: str, nameserver: str, relay: Relay, ca_file: str) -> Callable[[str], Settings]:
    """A service with a `contact` form that takes Contact Form 7's fields through its hook."""
    contact = {
        "title": "The Contact Letter",
        "hook": {
            "secret": HOOK_SECRET,
            "email_field": "your-email",
            "first_name_field": "your-name",
            "consent_field": "optin-consent",
        },
    }
    return relay_settings(db_url, nameserver, relay, ca_file, extra_forms={"contact": contact})


@asynccontextmanager
async def serve_on(sock: socket.socket, settings: Settings) -> AsyncIterator[None]:
    """The real app on a socket chosen in advance (so it can be down first, then up, at one URL)."""
    async with serve(lambda _url: settings, sock=sock):
        yield


def confirmations_queued(db_url: str) -> int:
    [(count,)] = rows(db_url, "SELECT count(*) FROM outbox WHERE kind = ?", (CONFIRMATION_EMAIL,))
    return int(count)


def signup_event(db_url: str) -> tuple[str | None, str | None]:
    found = rows(db_url, "SELECT page_url, user_agent FROM consent_events WHERE event = 'signup' ORDER BY id")
    assert found
    return found[0][0], found[0][1]
