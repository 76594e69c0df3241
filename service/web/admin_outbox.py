"""The admin's Outbox and Connectors pages, and their buttons.

Retry and drop are the store operations ``optin outbox retry|drop`` runs; *Test* does what
``optin connectors test`` does. Errors can quote an address (a relay's "550 <ann@…>"): they are
shown masked, as in the logs, since these pages need only the ``read`` scope.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service import jobs
from service.connectors.cli import test_contact
from service.connectors.status import connectors_health
from service.errors import DeliveryError
from service.logs import redact
from service.numbers import whole_number
from service.web.admin_http import admin_page, field, language, render
from service.web.context import services
from service.web.pages import PAGE_HEADERS

PAGE_SIZE = 50
KINDS = (*jobs.EMAIL_KINDS, *jobs.CONNECTOR_KINDS)


# A connector's name as settings allow it (a TOML key); also one no longer configured, whose jobs
# may still wait. Anything else (a NUL, which PostgreSQL refuses) filters nothing.
_CONNECTOR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _filters(request: Request) -> dict[str, str]:
    query = request.query_params
    state = query.get("state", "dead")
    connector = query.get("connector", "")
    return {
        "state": state if state in ("pending", "dead") else "dead",
        "kind": query.get("kind", "") if query.get("kind") in KINDS else "",
        "connector": connector if _CONNECTOR_NAME.fullmatch(connector) else "",
    }


@admin_page("outbox")
async def outbox(request: Request) -> Response:
    svc = services(request)
    filters = _filters(request)
    page = request.query_params.get("page", "0")
    page_number = whole_number(page, 10_000) or 0
    found = await svc.reports.jobs(
        filters["state"],
        filters["kind"] or None,
        filters["connector"] or None,
        offset=page_number * PAGE_SIZE,
        limit=PAGE_SIZE + 1,
    )
    return render(
        request,
        "admin/outbox.html",
        current="outbox",
        filters=filters,
        kinds=KINDS,
        connector_names=sorted(svc.settings.connectors),
        jobs=found[:PAGE_SIZE],
        more=len(found) > PAGE_SIZE,
        page=page_number,
        query=lambda **changes: urlencode({**filters, **changes}),
        counts=await svc.store.job_counts(),
        redact=redact,
        done=request.query_params.get("done", ""),
        now=time.time(),
    )


def _back(request: Request, done: str) -> Response:
    query = {k: field(request, k) for k in ("state", "kind", "connector") if field(request, k)}
    query["done"] = done
    return RedirectResponse(f"/admin/outbox?{urlencode(query)}", status_code=303, headers=PAGE_HEADERS)


def _ids(request: Request) -> list[int]:
    found = (whole_number(v) for v in request.state.form.getlist("job") if isinstance(v, str))
    return [job_id for job_id in found if job_id is not None][:100]


@admin_page("retry")
async def retry(request: Request) -> Response:
    store = services(request).store
    now = time.time()
    ids = _ids(request)
    if field(request, "all_dead") == "yes":
        ids = [j.id for j in await store.jobs("dead", 10_000)]
    done = [i for i in ids if await store.retry_job(i, now)]
    services(request).worker.wake()
    return _back(request, f"retried:{len(done)}")


@admin_page("drop")
async def drop(request: Request) -> Response:
    store = services(request).store
    now = time.time()
    done = [i for i in _ids(request) if await store.drop_job(i, now)]
    return _back(request, f"dropped:{len(done)}")


async def _connectors_page(request: Request, result: dict[str, str] | None = None) -> Response:
    svc = services(request)
    health = await connectors_health(svc.store, tuple(svc.settings.connectors))
    counts = await svc.store.connector_job_counts()
    rows = [
        {
            "name": name,
            "kind": svc.settings.connectors.get(name, {}).get("kind", "—"),
            "forms": [f.id for f in svc.settings.forms.values() if f.connector == name],
            "health": h,
            "jobs": counts.get(name, {}),
        }
        for name, h in health.items()
    ]
    return render(
        request,
        "admin/connectors.html",
        current="connectors",
        rows=rows,
        forms=list(svc.settings.forms.values()),
        result=result,
        redact=redact,
    )


@admin_page("connectors")
async def connectors(request: Request) -> Response:
    return await _connectors_page(request)


@admin_page("test")
async def test(request: Request) -> Response:
    """``optin connectors test FORM``: check the key and the list, then add a marked test contact."""
    svc = services(request)
    t = svc.renderer.strings(language(request))
    form = svc.settings.forms.get(field(request, "form"))
    if form is None:
        return await _connectors_page(request, {"ok": "", "form": "", "detail": t["admin_no_such_form"]})
    connector = svc.connectors[form.connector]
    check_only = field(request, "check_only") == "yes" or form.connector == "builtin"
    lines = []
    try:
        checked = await connector.check()
        lines.append(t["admin_test_checked"].format(detail=checked.detail))
        if not check_only:
            contact = test_contact(svc.settings, form.id, form.language, None)
            done = await connector.upsert(contact, idempotency_key=f"optin-test-{int(time.time())}")
            lines.append(t["admin_test_added"].format(email=contact.email, detail=done.detail))
        ok = "yes"
    except DeliveryError as exc:
        lines.append(t["admin_test_failed"].format(detail=exc.detail))
        ok = ""
    return await _connectors_page(request, {"ok": ok, "form": form.id, "detail": " ".join(lines)})
