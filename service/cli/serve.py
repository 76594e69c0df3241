"""``optin serve``: the API, the widget, the pages and the outbox worker in one process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from typing import Any

from service.app_roles import ROLES
from service.cli.common import checked_settings, port_number
from service.errors import ConfigError, StoreError
from service.numbers import whole_number
from service.settings import Settings

REQUEST_GRACE_SECONDS = 15


def add_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the service",
        description="Run the service. It refuses to start, in the words of `optin check-config`"
        " and with exit code 2, when the settings cannot work.",
    )
    serve.add_argument("--host", help="address to listen on (default: server.host)")
    serve.add_argument("--port", type=port_number, help="port to listen on (default: server.port)")
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="web answers visitors; worker runs queued jobs and answers only probes; all does both",
    )
    serve.add_argument(
        "--workers",
        type=_process_count,
        default=1,
        metavar="N",
        help="run N processes on this machine, sharing the port (a supervisor replaces any that dies)",
    )
    serve.set_defaults(func=cmd_serve)


def _process_count(text: str) -> int:
    count = whole_number(text, 65)
    if not count:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 1 to 64")
    return count


async def _open_database(settings: Settings) -> None:
    """Open and close the store once, so a database that cannot be used is told in words here
    rather than in a traceback from inside the web server."""
    from service.store import open_store

    try:
        store = await open_store(settings.server.database, settings.server.auto_migrate)
    except (ConfigError, StoreError):
        raise
    except Exception as exc:
        raise ConfigError(f"server.database cannot be opened: {exc}") from exc
    await store.close()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.logs import configure_logging

    settings = checked_settings(args)
    asyncio.run(_open_database(settings))
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    configure_logging(log_format=settings.server.log_format)
    # With JSON logs every line a collector reads must be JSON: these lines are log records then.
    say = logging.getLogger("optin").info if settings.server.log_format == "json" else print
    say(
        f"optin ({settings.server.environment}, role {args.role}) on http://{host}:{port}"
        f" — settings: {settings.source}"
    )
    if settings.uses_dev_mail_catcher:
        say(f"No SMTP relay configured: mail is caught and shown at {settings.server.public_url}/dev/mail")
    if settings.server.development:
        say(f"The demo form: {settings.server.public_url}/")

    def server_config(app: Any) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info",
            server_header=False,
            log_config=None,
            # SIGTERM: stop accepting, let requests in flight finish, then the lifespan hands
            # unfinished jobs back; an orchestrator's grace period of 30 s covers both.
            timeout_graceful_shutdown=REQUEST_GRACE_SECONDS,
            proxy_headers=False,  # only server.trusted_proxies decides who the client is
        )

    if args.workers == 1:
        uvicorn.Server(server_config(create_app(settings, args.role))).run()
        return 0
    from service.cli.workers import listening_socket, supervise

    def serve_on(sock: socket.socket) -> None:  # in each child: an app, a loop and a pool of its own
        uvicorn.Server(server_config(create_app(settings, args.role))).run(sockets=[sock])

    say(f"{args.workers} processes share the port")
    return supervise(args.workers, serve_on, listening_socket(host, port))
