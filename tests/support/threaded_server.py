"""The real app served by uvicorn on a loopback port in a thread of its own, for synchronous tests
(hypothesis, schemathesis) that send many requests from plain functions."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from service.app import create_app
from service.settings import Settings
from tests.support.app_server import bound_socket


@contextmanager
def threaded_service(configure: Callable[[str], Settings]) -> Iterator[str]:
    """Start the app; yield its base URL; stop it."""
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(create_app(configure(url)), log_level="warning", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the service did not start")
            threading.Event().wait(0.02)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
