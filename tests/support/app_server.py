"""The real ASGI app served by uvicorn on a loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any

import httpx
import uvicorn

from service.app import create_app
from service.app_roles import Role
from service.settings import Settings, build_settings
from service.store import ConsentEvent, ContactRow, open_store
from tests.support.relay import PASSWORD, USER, Relay

SECRET = "test-secret-key-0123456789abcdef"


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def free_port() -> int:
    with bound_socket() as sock:
        return int(sock.getsockname()[1])


def make_settings(raw: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    return build_settings(raw, env or {}, "test")


def base_config(database: str, public_url: str, nameserver: str, **sections: Any) -> dict[str, Any]:
    """Settings for a test service; DNS answers come from the loopback test zone only."""
    config: dict[str, Any] = {
        "dns": {"nameservers": [nameserver], "timeout": 1.0},
        "server": {
            "public_url": public_url,
            "secret_key": SECRET,
            "database": database,
            "confirm_min_dwell_seconds": 0.0,
        },
        # Generous limits: tests of other behaviour sign the same address up again and again;
        # tests/test_abuse.py checks the real defaults.
        "limits": {
            "emails_per_address_day": 1000,
            "emails_per_address_month": 1000,
            "signups_per_ip_hour": 10000,
            "signups_per_network_hour": 10000,
            "verify_per_ip_minute": 10000,
        },
        "outbox": {"base_delay": 0.2, "max_delay": 2.0, "poll_interval": 0.1, "lease_seconds": 3.0},
        # The anti-bot proof of work and fill time are the widget's tests' business
        # (tests/widget); the honeypot stays on.
        "forms": {
            "newsletter": {
                "title": "The Test Letter",
                "consent_text": "Yes, email me.",
                "antibot": {"altcha": False, "min_fill_seconds": 0},
            }
        },
    }
    for name, value in sections.items():
        config[name] = {**config.get(name, {}), **value}
    return config


@asynccontextmanager
async def serve(
    configure: Callable[[str], Settings],
    host: str = "127.0.0.1",
    sock: socket.socket | None = None,
    role: Role = "all",
    clock: Callable[[], float] = time.time,
    *,
    public_host: str | None = None,
    certfile: str | None = None,
) -> AsyncIterator[tuple[str, Settings]]:
    """The app on a loopback port, bound first so the settings' public URL (used in emailed
    links) is the real one. Pass ``sock`` to choose the port in advance (a service that is down,
    then up, at one URL), ``clock`` to move its time on (tests.support.clock). With ``certfile``
    (key and certificate in one PEM) it speaks HTTPS, and ``public_host`` names it in the URL (a
    name the test DNS zone resolves to loopback)."""
    own = sock is None
    sock = sock or bound_socket(host)
    url = f"{'https' if certfile else 'http'}://{public_host or host}:{sock.getsockname()[1]}"
    settings = configure(url)
    config = uvicorn.Config(
        create_app(settings, role, clock),
        log_level="warning",
        lifespan="on",
        ssl_certfile=certfile,
        ssl_keyfile=certfile,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield url, settings
    finally:
        server.should_exit = True
        await task
        if own:
            sock.close()


async def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=10.0, follow_redirects=False)


HOOK_SECRET = "whsec_" + "c2VjcmV0LXdlYmhvb2sta2V5LTEyMzQ1Ng=="


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def code_in(message: EmailMessage) -> str:
    """The 6-digit code of a confirmation email (written "123 456")."""
    found = re.search(r"(\d{3}) (\d{3})\s*$", text_of(message), re.MULTILINE)
    assert found, text_of(message)
    return found.group(1) + found.group(2)


def link_in(message: EmailMessage, path: str) -> str:
    found = re.search(rf"http://127\.0\.0\.1:\d+/{path}/\S+", text_of(message))
    assert found, text_of(message)
    return found.group(0)


def relay_settings(
    db_url: str,
    nameserver: str,
    relay: Relay,
    ca_file: str,
    hook_url: str = "",
    extra_forms: dict[str, dict[str, Any]] | None = None,
    connectors: dict[str, dict[str, Any]] | None = None,
    **form: object,
) -> Callable[[str], Settings]:
    """A service that sends through ``relay`` (STARTTLS + AUTH) and, given a URL, to a webhook.

    ``form`` changes the ``newsletter`` form; ``extra_forms`` adds others; ``connectors`` adds
    ``[connectors.NAME]`` tables.
    """

    def configure(url: str) -> Settings:
        config = base_config(
            db_url,
            url,
            nameserver,
            smtp={
                "host": "127.0.0.1",
                "port": relay.port,
                "security": "starttls",
                "username": "env:SMTP_USER",
                "password": "env:SMTP_PASSWORD",
                "sender": "Test News <news@example.com>",
                "tls_ca_file": ca_file,
            },
        )
        if hook_url:
            config["connectors"] = {
                "main-list": {"kind": "webhook", "url": hook_url, "secret": "env:HOOK_SECRET"}
            }
            config["forms"]["newsletter"].update({"connector": "main-list", "welcome_email": True})
        config.setdefault("connectors", {}).update(connectors or {})
        config["forms"]["newsletter"].update(form)
        config["forms"].update(extra_forms or {})
        env = {"SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD, "HOOK_SECRET": HOOK_SECRET}
        return make_settings(config, env)

    return configure


def answer_shape(answer: httpx.Response) -> tuple[int, str, dict[str, Any], list[str], int]:
    """What a subscribe answer shows a stranger, with its signup handle reduced to its form:
    status, content type, body without the handle, the handle's format and the lengths of its
    parts, the length of its id. Two answers with the same shape tell nothing apart (the handle
    is random each time)."""
    body = dict(answer.json())
    handle = body.pop("signup", None)
    assert isinstance(handle, str), body
    version, token_id, issued, mac = handle.split(".")
    return (
        answer.status_code,
        answer.headers["content-type"],
        body,
        [version, *map(str, map(len, (issued, mac)))],
        len(token_id),
    )


async def confirm(http: httpx.AsyncClient, link: str) -> httpx.Response:
    """What a person does: open the link's page, then press its button (which carries the nonce)."""
    page = await http.get(link)
    found = re.search(r'name="nonce" value="([^"]+)"', page.text)
    return await http.post(link, data={"nonce": found.group(1) if found else ""})


async def sign_up(http: httpx.AsyncClient, relay: Relay, email: str) -> str:
    """A visitor signs up on the newsletter form; returns the link in the email they get."""
    answer = await http.post("/v1/forms/newsletter/subscribe", json={"email": email, "consent": True})
    assert answer.status_code == 202, answer.text
    mail = await wait_for(lambda: relay.to(email), what=f"the confirmation to {email}")
    return link_in(mail[-1], "confirm")


async def stored(database: str) -> list[tuple[ContactRow, list[ConsentEvent]]]:
    """Every contact in the service's database, with its consent ledger."""
    store = await open_store(database)
    try:
        return [(c, await store.events(c.id)) for c in await store.contacts()]
    finally:
        await store.close()
