"""``POST /v1/verify``: the verdict for one address under a form's policy, as JSON.

The lead wires the route and CORS; this handler reads ``request.app.state.verifier`` (a
:class:`~service.verification.Verifier`) and ``request.app.state.settings.forms[form_id].policy``.
Every failure is a 4xx with ``{"error": "..."}`` in words; nothing here answers 500.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service import metrics
from service.errors import InputError
from service.verification.verdict import Policy
from service.web.body import load_json, receive_body
from service.web.json_answer import NO_STORE, JsonAnswer, json_answer

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
_USAGE = 'Send JSON like {"email": "ann@example.org", "form": "newsletter"}.'


def _error(status: int, message: str) -> JsonAnswer:
    return json_answer({"error": message}, status, NO_STORE)


def _policy(request: Request, form: Any) -> Policy | JsonAnswer | None:
    if form is None:
        return None
    if not isinstance(form, str):
        return _error(422, '"form" must be a string naming one of your forms.')
    settings = getattr(request.app.state, "settings", None)
    forms = getattr(settings, "forms", None) or {}
    entry = forms.get(form)
    if entry is None:
        return _error(404, f"There is no form called {form[:100]!r}.")
    policy = getattr(entry, "policy", None)
    return policy if isinstance(policy, Policy) else None


async def verify_endpoint(request: Request) -> Response:
    """Verify ``{"email": ..., "form": ...}``; 400 bad JSON, 404 unknown form, 422 missing email."""
    try:
        body = await receive_body(request)
        if len(body) > MAX_BODY:
            return _error(413, "The request is too large.")
        try:
            data = load_json(body)
        except InputError as exc:
            return _error(exc.status, f"The request body is not usable: {exc.message}. " + _USAGE)
        if not isinstance(data, dict):
            return _error(400, "The request body must be a JSON object. " + _USAGE)
        email = data.get("email")
        if not isinstance(email, str):
            return _error(422, '"email" is missing or is not a string. ' + _USAGE)
        policy = _policy(request, data.get("form"))
        if isinstance(policy, JsonAnswer):
            return policy
        verifier = getattr(request.app.state, "verifier", None)
        if verifier is None:
            log.error("app.state.verifier is not set: POST /v1/verify cannot work")
            return _error(503, "Address verification is not available right now.")
        # A warm cache answers without a task or I/O.
        verdict = verifier.verify_cached(email, policy) or await verifier.verify(email, policy)
        metrics.verdict(verdict.decision, "verify")
        return json_answer(verdict.to_json(), 200, NO_STORE)
    except InputError as exc:  # the body passed server.max_body_bytes while being read
        return _error(exc.status, exc.message)
    except Exception:
        log.exception("POST /v1/verify failed")
        return _error(503, "Address verification is not available right now.")
