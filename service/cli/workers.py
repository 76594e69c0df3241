"""``optin serve --workers N``: N processes answering on one socket, kept alive by a supervisor.

The parent binds the socket, then forks; each child builds its own app (its own event loop,
database pool and outbox worker) from the settings the parent already checked, so every
child runs exactly the configuration that was validated. A child that dies is replaced; a
SIGTERM or SIGINT is passed on to every child, which drains as a single process does, and the
parent exits when the last one has.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable

log = logging.getLogger("optin.supervisor")
RESTART_PAUSE = 1.0  # a child that keeps dying at once is not restarted in a tight loop


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise(count: int, serve: Callable[[socket.socket], None], sock: socket.socket) -> int:
    """Run ``serve(sock)`` in ``count`` forked children until a signal asks them all to stop."""
    children: dict[int, float] = {}  # pid -> when it started
    stopping = False

    def start_one() -> None:
        pid = os.fork()
        if pid == 0:  # the child: default signal handling, then the server until it stops
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            code = 0
            try:
                serve(sock)
            except BaseException:
                log.exception("worker process %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        start_one()
    log.info("supervising %d processes: %s", count, ", ".join(map(str, children)))
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        log.warning("process %d exited (%s); starting another", pid, _describe(status))
        if time.monotonic() - started < RESTART_PAUSE:
            time.sleep(RESTART_PAUSE)
        start_one()
    sock.close()
    return 0


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.WEXITSTATUS(status)}"
