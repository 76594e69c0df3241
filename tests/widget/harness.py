"""The service with per-form anti-bot policies, and a solver for its ALTCHA challenges."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from altcha.v1 import solve_challenge

from service.antibot import AntiBotPolicy
from service.settings import Settings
from tests.support.app_server import serve


def with_policies(
    configure: Callable[[str], Settings], policies: Mapping[str, AntiBotPolicy] | None
) -> Callable[[str], Settings]:
    """The same settings, with these forms' ``[forms.NAME.antibot]`` replaced."""

    def build(url: str) -> Settings:
        settings = configure(url)
        forms = {
            name: replace(form, antibot=(policies or {}).get(name, form.antibot))
            for name, form in settings.forms.items()
        }
        return replace(settings, forms=forms)

    return build


@asynccontextmanager
async def serve_antibot(
    configure: Callable[[str], Settings],
    policies: Mapping[str, AntiBotPolicy] | None = None,
    host: str = "127.0.0.1",
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[tuple[str, Settings]]:
    """The real service with per-form anti-bot policies; ``host`` names its origin."""
    async with serve(with_policies(configure, policies), host, clock=clock) as running:
        yield running


def solve(challenge_body: Mapping[str, Any]) -> str:
    """Solve an ALTCHA challenge as a browser would; the base64 payload a form sends."""
    c = challenge_body["altcha"]
    found = solve_challenge(c["challenge"], c["salt"], c["algorithm"], c["maxnumber"])
    assert found is not None, "the challenge has no solution in its range"
    payload = {k: c[k] for k in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = found.number
    return base64.b64encode(json.dumps(payload).encode()).decode()
