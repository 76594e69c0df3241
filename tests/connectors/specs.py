"""Load the ESPs' published OpenAPI documents, patch their known defects, validate traffic.

The documents live in ``../shared/esp-specs`` relative to the repository root; their origins and
defects are listed in that directory's MANIFEST.md. Each patch below names the defect it mends.
A missing directory fails the test: contract tests that silently vanish prove nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.starlette.requests import StarletteOpenAPIRequest
from openapi_core.contrib.starlette.responses import StarletteOpenAPIResponse
from starlette.requests import Request
from starlette.responses import Response

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "esp-specs"


def spec_file(name: str) -> Path:
    path = SPECS / name
    if not path.is_file():
        pytest.fail(
            f"ESP OpenAPI document {name} not found in {SPECS.resolve()}: the contract tests need the "
            "shared/esp-specs directory next to the repository (see its MANIFEST.md)",
            pytrace=False,
        )
    return path


class _NoTimestamps(yaml.CSafeLoader):
    """YAML loader that keeps dates as strings (Brevo's document has unquoted dates)."""


_NoTimestamps.yaml_implicit_resolvers = {
    key: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


def _string_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _string_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_string_keys(v) for v in node]
    return node


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def _build(doc: dict[str, Any], server: str) -> OpenAPI:
    # The fakes listen on 127.0.0.1: match paths relative to the vendor's base path.
    doc["servers"] = [{"url": server}]
    return OpenAPI.from_dict(doc, config=Config(spec_validator_cls=None))


@cache
def mailchimp() -> OpenAPI:
    doc = yaml.load(spec_file("mailchimp_marketing_3.0.55_openapi.yaml").read_text(), Loader=yaml.CSafeLoader)

    def merge_fields_take_scalars(node: dict[str, Any]) -> None:
        # MANIFEST defect: merge_fields.additionalProperties is `type: object`, so "FNAME": "Ann" fails.
        fields = node.get("merge_fields")
        if isinstance(fields, dict) and isinstance(fields.get("additionalProperties"), dict):
            fields["additionalProperties"] = {}

    _walk(doc, merge_fields_take_scalars)
    return _build(doc, "/3.0")


@cache
def kit() -> OpenAPI:
    doc = json.loads(spec_file("kit_v4_openapi.json").read_text())
    body = doc["paths"]["/v4/subscribers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # MANIFEST defect: `fields` has an example-derived `required: [Last name, Birthday, Source]`.
    body["properties"]["fields"].pop("required", None)
    body["properties"]["fields"]["additionalProperties"] = True

    def api_key_auth_needs_no_authorization_header(node: dict[str, Any]) -> None:
        # Not in the MANIFEST: every operation also lists a *required* `Authorization` header
        # parameter (the OAuth form), which an X-Kit-Api-Key request rightly lacks. Security
        # schemes already describe both ways to authenticate.
        # openapi-core cannot check OAuth2 (it warns), and we authenticate with the API key.
        if isinstance(node.get("security"), list):
            node["security"] = [r for r in node["security"] if "OAuth2" not in r]
        params = node.get("parameters")
        if isinstance(params, list):
            node["parameters"] = [
                p for p in params if not (p.get("in") == "header" and p.get("name") == "Authorization")
            ]

    def no_example_required_fields(node: dict[str, Any]) -> None:
        # Like the MANIFEST's `fields.required` defect, response `fields` objects require the
        # example's custom fields (`category`); no account has to have those.
        fields = (node.get("properties") or {}).get("fields")
        if isinstance(fields, dict):
            fields.pop("required", None)

    _walk(doc["paths"], api_key_auth_needs_no_authorization_header)
    _walk(doc["paths"], no_example_required_fields)
    return _build(doc, "/")


@cache
def brevo() -> OpenAPI:
    # MANIFEST defect: unquoted YAML ints as response codes and unquoted dates.
    doc = _string_keys(yaml.load(spec_file("brevo_v3_openapi3_pr47.yml").read_text(), Loader=_NoTimestamps))  # noqa: S506 (a CSafeLoader)
    return _build(doc, "/v3")


@cache
def getresponse() -> OpenAPI:
    doc = json.loads(spec_file("getresponse_v3_skill_subset_openapi.json").read_text())
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
    return _build(doc, "/v3")


@cache
def sendgrid(part: str) -> OpenAPI:
    doc = json.loads(spec_file(f"sendgrid_tsg_mc_{part}_v3.json").read_text())
    return _build(doc, "/")


def sendgrid_for(path: str) -> OpenAPI:
    if path.startswith("/v3/marketing/lists"):
        return sendgrid("lists")
    if path.startswith("/v3/marketing/field_definitions"):
        return sendgrid("custom_fields")
    return sendgrid("contacts")


def checker(
    pick: Callable[[str], OpenAPI], *, responses: bool = True
) -> Callable[[Request, bytes, Response], list[str]]:
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
