"""Load the ESPs' published OpenAPI documents, patch their known defects, validate traffic.

The documents are extracts kept in ``tests/data/esp-specs/``: the operations our fakes serve and
every component they reference, verbatim (its README names each source, version and licence;
``tests/data/extract_esp_specs.py`` regenerates them). Each patch below names the defect it mends.
A document that cannot be loaded fails the test at set-up, naming the file and the reason: a
contract check that silently vanishes, or a fake that answers 500 instead, proves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.contrib.starlette.requests import StarletteOpenAPIRequest
from openapi_core.contrib.starlette.responses import StarletteOpenAPIResponse
from starlette.requests import Request
from starlette.responses import Response

SPECS = Path(__file__).resolve().parents[1] / "data" / "esp-specs"

Picker = Callable[[str], OpenAPI]
Patch = Callable[[dict[str, Any]], None]


class SpecUnavailable(Exception):
    """An ESP document is missing, unreadable, or no longer fits its patches."""


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def read_spec(name: str) -> dict[str, Any]:
    path = SPECS / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SpecUnavailable(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise SpecUnavailable(f"{path} is not an OpenAPI document (no paths)")
    return doc


def _build(name: str, server: str, patch: Patch | None = None) -> OpenAPI:
    doc = read_spec(name)
    try:
        if patch is not None:
            patch(doc)
        # The fakes listen on 127.0.0.1: match paths relative to the vendor's base path.
        doc["servers"] = [{"url": server}]
        return OpenAPI.from_dict(doc, config=Config(spec_validator_cls=None))
    except Exception as exc:  # a patch that no longer fits, or a document openapi-core refuses
        raise SpecUnavailable(f"{SPECS / name} cannot be used: {type(exc).__name__}: {exc}") from exc


def _mailchimp_patch(doc: dict[str, Any]) -> None:
    def merge_fields_take_scalars(node: dict[str, Any]) -> None:
        # Known defect: merge_fields.additionalProperties is `type: object`, so "FNAME": "Ann" fails.
        fields = node.get("merge_fields")
        if isinstance(fields, dict) and isinstance(fields.get("additionalProperties"), dict):
            fields["additionalProperties"] = {}

    _walk(doc, merge_fields_take_scalars)


def _kit_patch(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v4/subscribers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # Known defect: `fields` has an example-derived `required: [Last name, Birthday, Source]`.
    body["properties"]["fields"].pop("required", None)
    body["properties"]["fields"]["additionalProperties"] = True

    def api_key_auth_needs_no_authorization_header(node: dict[str, Any]) -> None:
        # Every operation also lists a *required* `Authorization` header parameter (the OAuth
        # form), which an X-Kit-Api-Key request rightly lacks. Security schemes already describe
        # both ways to authenticate.
        # openapi-core cannot check OAuth2 (it warns), and we authenticate with the API key.
        if isinstance(node.get("security"), list):
            node["security"] = [r for r in node["security"] if "OAuth2" not in r]
        params = node.get("parameters")
        if isinstance(params, list):
            node["parameters"] = [
                p for p in params if not (p.get("in") == "header" and p.get("name") == "Authorization")
            ]

    def no_example_required_fields(node: dict[str, Any]) -> None:
        # Like the `fields.required` defect, response `fields` objects require the example's
        # custom fields (`category`); no account has to have those.
        fields = (node.get("properties") or {}).get("fields")
        if isinstance(fields, dict):
            fields.pop("required", None)

    _walk(doc["paths"], api_key_auth_needs_no_authorization_header)
    _walk(doc["paths"], no_example_required_fields)


def _getresponse_patch(doc: dict[str, Any]) -> None:
    # The document is a 14-path subset. Updating and deleting a contact are documented at
    # https://apireference.getresponse.com/#/operations/updateContact and deleteContact; the
    # update body is the create body without `email`/`campaign` being required.
    create = doc["paths"]["/contacts"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    update_schema = json.loads(json.dumps(schema))
    update_schema.pop("required", None)
    contact_id = {"name": "contactId", "in": "path", "required": True, "schema": {"type": "string"}}
    doc["paths"]["/contacts/{contactId}"]["post"] = {
        "parameters": [contact_id],
        "requestBody": {"content": {"application/json": {"schema": update_schema}}},
        "responses": {"200": {"description": "Contact updated"}, "404": {"description": "Contact not found"}},
    }
    doc["paths"]["/contacts/{contactId}"]["delete"] = {
        "parameters": [contact_id],
        "responses": {"204": {"description": "Contact deleted"}, "404": {"description": "Contact not found"}},
    }


@cache
def mailchimp() -> OpenAPI:
    return _build("mailchimp.json", "/3.0", _mailchimp_patch)


@cache
def kit() -> OpenAPI:
    return _build("kit.json", "/", _kit_patch)


@cache
def brevo() -> OpenAPI:
    return _build("brevo.json", "/v3")


@cache
def getresponse() -> OpenAPI:
    return _build("getresponse.json", "/v3", _getresponse_patch)


@cache
def sendgrid(part: str) -> OpenAPI:
    return _build(f"sendgrid_{part}.json", "/")


def _one(spec: OpenAPI) -> Picker:
    return lambda _path: spec


def _sendgrid() -> Picker:
    # SendGrid publishes one document per resource.
    lists, contacts = sendgrid("lists"), sendgrid("contacts")
    return lambda path: lists if path.startswith("/v3/marketing/lists") else contacts


CONTRACTS: dict[str, Callable[[], Picker]] = {
    "Mailchimp": lambda: _one(mailchimp()),
    "Brevo": lambda: _one(brevo()),
    "SendGrid": _sendgrid,
    "GetResponse": lambda: _one(getresponse()),
    "Kit": lambda: _one(kit()),
}


def contract(vendor: str) -> Picker:
    """Load now every document ``vendor``'s traffic is checked against, failing the test if one
    cannot be: at set-up, before any request, rather than as a 500 from inside the fake."""
    try:
        return CONTRACTS[vendor]()
    except SpecUnavailable as exc:
        reason = str(exc)
    # Outside the except block: the report shows the reason alone, not a chain of tracebacks.
    pytest.fail(f"{vendor}'s contract cannot be loaded: {reason}", pytrace=False)


def checker(pick: Picker, *, responses: bool = True) -> Callable[[Request, bytes, Response], list[str]]:
    """Validate each request, and each fake's 2xx answer with a body, against the spec."""

    def check(request: Request, raw: bytes, response: Response) -> list[str]:
        spec = pick(request.url.path)
        openapi_request = StarletteOpenAPIRequest(request, raw)
        where = f"{request.method} {request.url.path}"
        problems: list[str] = []
        try:
            spec.validate_request(openapi_request)
        except Exception as exc:  # every openapi-core complaint is a contract violation
            problems.append(f"request {where}: {_explain(exc)}")
        if responses and not problems and response.status_code < 300 and response.body:
            try:
                spec.validate_response(openapi_request, StarletteOpenAPIResponse(response))
            except Exception as exc:
                problems.append(f"fake's reply {response.status_code} to {where}: {_explain(exc)}")
        return problems

    return check


def _explain(exc: BaseException) -> str:
    causes = [str(exc)]
    for inner in getattr(exc, "schema_errors", None) or getattr(exc.__cause__, "schema_errors", None) or []:
        causes.append(f"{list(inner.path)}: {inner.message}")
    return "; ".join(causes)
