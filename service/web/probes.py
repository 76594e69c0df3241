"""Probes for orchestrators: ``/livez`` (the process answers) and ``/readyz`` (it can do its work).

``/readyz`` writes to the database and checks the schema's version, so a replica that lost its
database, or runs beside a schema it does not know, is taken out of rotation; ``/healthz``
stays the human summary.
"""

from __future__ import annotations

import asyncio
import os

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

READY_TIMEOUT = 5.0


async def livez(request: Request) -> Response:
    return JSONResponse({"status": "alive", "role": request.app.state.role, "pid": os.getpid()})


async def readyz(request: Request) -> Response:
    store = getattr(request.app.state, "store", None)
    if store is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        problem = await asyncio.wait_for(store.check_ready(), READY_TIMEOUT)
    except TimeoutError:
        problem = f"the database did not answer within {READY_TIMEOUT:g} s"
    except Exception as exc:
        problem = (
            f"the database cannot be written: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        )
    if problem:
        return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready", "role": request.app.state.role})
