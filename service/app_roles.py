"""What a process does: ``optin serve --role``.

web: answers visitors and queues jobs, runs none; worker: runs the outbox and housekeeping and
answers only probes; all: both in one process (the default, and what SQLite deployments run).
"""

from __future__ import annotations

from typing import Literal

Role = Literal["web", "worker", "all"]
ROLES: tuple[Role, ...] = ("web", "worker", "all")
