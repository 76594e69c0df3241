"""POST /v1/hooks/{form_id}: signed submissions from contact-form plugins and no-code tools."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.errors import InputError
from service.hooks import SIGNATURE_HEADER, check_signature, check_url_token, parse_submission, signup_from
from service.web.body import parse_fields, read_body
from service.web.client import client_ip
from service.web.context import services


async def receive(request: Request) -> Response:
    svc = services(request)
    form = svc.settings.forms.get(request.path_params["form_id"])
    try:
        if form is None or form.hook is None:
            raise InputError("this form does not accept forwarded submissions", field="form", status=404)
        hook = form.hook
        body = await read_body(request, svc.settings.server.max_body_bytes)
        url_token = request.path_params.get("url_token")
        if url_token is not None:
            check_url_token(hook, url_token)
        else:
            digest = check_signature(hook, request.headers.get(SIGNATURE_HEADER), body, time.time())
            if not await svc.store.claim_once(f"hook-signature:{digest}", 2.0 * hook.tolerance_seconds):
                raise InputError("this exact signed request was already received (a replay)", status=409)
        submission = parse_submission(parse_fields(body, request.headers.get("content-type", "")), hook)
        if submission.ping:
            message = "the signature is valid and the form accepts submissions"
            return JSONResponse({"status": "ok", "form": form.id, "message": message})
        accepted = await svc.signup.subscribe(signup_from(form, hook, submission, client_ip(request)))
    except InputError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return JSONResponse(
            {"error": exc.message, "field": exc.field}, status_code=exc.status, headers=headers
        )
    return JSONResponse({"status": "accepted", "duplicate": not accepted.fresh}, status_code=202)
