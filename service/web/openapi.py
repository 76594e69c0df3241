"""The OpenAPI document for the public and admin API, served at /openapi.json.

Written by hand, next to the routes it describes; tests/test_openapi.py runs schemathesis against
the live app with it, so a response that breaks it, or any 5xx, fails the build.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "minLength": 1},
        "field": {"type": ["string", "null"]},
        # Several fields wrong at once (a form's custom fields): each one's problem.
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
STRING_OR_NULL = {"type": ["string", "null"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "The body is not valid JSON or form data",
        401: "Missing or invalid credentials or signature",
        403: "Not allowed (origin or key scope)",
        404: "No such form or contact",
        409: "A replayed request",
        413: "The body is too large",
        415: "Unsupported content type",
        422: "A field is missing or invalid; the message says which",
        429: "Too many requests; see Retry-After",
    }
    return {str(code): _json(ERROR, words[code]) for code in codes}


def _errors_or_pages(*codes: int) -> dict[str, Any]:
    """A plain HTML form post gets its errors as a page; JavaScript gets JSON."""
    answers = _errors(*codes)
    for answer in answers.values():
        answer["content"][HTML] = {"schema": {"type": "string"}}
    return answers


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


SIGNUP_FIELDS: dict[str, Any] = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "maxLength": 320},
        "first_name": {"type": "string", "maxLength": 200},
        "last_name": {"type": "string", "maxLength": 200},
        "language": {"type": "string", "maxLength": 20},
        "consent": {"type": ["boolean", "string", "null"]},
        "page_url": {"type": "string", "maxLength": 2000},
        "optin_hp": {
            "type": ["string", "null"],
            "maxLength": 0,
            "description": "The honeypot: absent, null or empty; anything else is refused",
        },
        "optin_ts": {
            "type": "string",
            "description": "The fill-time token from /v1/forms/{form_id}/challenge, when the form's policy asks for one",
        },
        "altcha": {
            "type": ["string", "object"],
            "description": "The solved ALTCHA challenge (base64 JSON, or the object), when the form's policy asks for one",
        },
    },
}
# A form post carries text only: no null, no object.
SIGNUP_FORM_FIELDS: dict[str, Any] = {
    **SIGNUP_FIELDS,
    "properties": {
        **SIGNUP_FIELDS["properties"],
        "consent": {"type": "string"},
        "optin_hp": {**SIGNUP_FIELDS["properties"]["optin_hp"], "type": "string"},
        "altcha": {**SIGNUP_FIELDS["properties"]["altcha"], "type": "string"},
    },
}
VERDICT: dict[str, Any] = {
    "type": "object",
    "required": ["input", "normalized", "status", "decision", "reasons", "flags", "suggestion", "message"],
    "properties": {
        "input": {"type": "string"},
        "normalized": STRING_OR_NULL,
        "status": {"enum": ["deliverable", "undeliverable", "risky", "unknown"]},
        "decision": {"enum": ["accept", "warn", "reject"]},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "flags": {"type": "array", "items": {"type": "string"}},
        "suggestion": STRING_OR_NULL,
        "message": {"type": "string"},
    },
}
FORM_ID = {"name": "form_id", "in": "path", "required": True, "schema": {"type": "string"}}
HANDLE = {"type": "string", "description": "the signup handle the subscribe answer gave"}
SIGNUP_BODY: dict[str, Any] = {"type": "object", "required": ["signup"], "properties": {"signup": HANDLE}}
CODE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["signup", "code"],
    "properties": {"signup": HANDLE, "code": {"type": "string", "description": "the 6 digits of the email"}},
}
CODE_REFUSED: dict[str, Any] = {
    "type": "object",
    "required": ["status", "error", "field"],
    "properties": {
        "status": {"enum": ["wrong_code", "too_many_attempts", "expired"]},
        "error": {"type": "string", "minLength": 1},
        "field": {"const": "code"},
        "tries_left": {"type": "integer", "minimum": 0},
    },
}


def _posted(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}, FORM: {"schema": schema}}}


TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
EMAIL = {"name": "email", "in": "path", "required": True, "schema": {"type": "string"}}
BEARER: list[dict[str, list[str]]] = [{"adminKey": []}]


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "optin",
            "version": "1",
            "description": "Double opt-in signups: verify, confirm, list.",
        },
        "components": {"securitySchemes": {"adminKey": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/v1/verify": {
                "post": {
                    "summary": "Check an address under a form's policy",
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["email"],
                                    "properties": {
                                        "email": {"type": "string"},
                                        "form": {
                                            "type": ["string", "null"],
                                            "description": "A form's id, whose policy applies; absent or null: the default policy",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(VERDICT, "The verdict"),
                        **_errors(400, 403, 404, 413, 422, 429),
                        "503": _json(ERROR, "Verification is not available"),
                    },
                }
            },
            "/v1/forms/{form_id}": {
                "get": {
                    "summary": "A form's public configuration, for the widget",
                    "parameters": [FORM_ID],
                    "responses": {"200": _json({"type": "object"}, "The form"), **_errors(403, 404)},
                }
            },
            "/v1/forms/{form_id}/challenge": {
                "get": {
                    "summary": "A fresh anti-bot challenge (ALTCHA) and signed fill-time token, for the widget",
                    "parameters": [FORM_ID],
                    "responses": {"200": _json({"type": "object"}, "The challenge"), **_errors(403, 404)},
                }
            },
            "/v1/forms/{form_id}/subscribe": {
                "post": {
                    "summary": "Sign up; the same answer whether the address is new, pending or on the list",
                    "parameters": [FORM_ID],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": SIGNUP_FIELDS}, FORM: {"schema": SIGNUP_FORM_FIELDS}},
                    },
                    "responses": {
                        "202": _json(
                            {
                                "type": "object",
                                "required": ["status", "message", "signup"],
                                "properties": {"status": {"const": "accepted"}, "signup": HANDLE},
                            },
                            "Accepted: a confirmation email is on its way (or was already sent);"
                            " the same answer whoever the address is, with a new handle each time",
                        ),
                        "303": {"description": "A plain HTML form post: go to the thank-you page"},
                        **_errors_or_pages(400, 403, 404, 413, 415, 422, 429),
                    },
                }
            },
            "/v1/forms/{form_id}/code": {
                "post": {
                    "summary": "Confirm a signup with the 6-digit code of its email (a wrong handle"
                    " answers like a wrong code)",
                    "parameters": [FORM_ID],
                    "requestBody": _posted(CODE_BODY),
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["status", "message"],
                                "properties": {
                                    "status": {"const": "confirmed"},
                                    "message": {"type": "string"},
                                },
                            },
                            "Confirmed, as the email's link would (or already was)",
                        ),
                        "409": _json(
                            CODE_REFUSED, "Too many wrong codes for this signup: ask for a new email"
                        ),
                        "410": _json(CODE_REFUSED, "The code has expired with its link"),
                        "422": _json(ERROR, "A wrong code (tries_left says how many remain), or no code"),
                        **_errors(400, 403, 404, 413, 415, 429),
                    },
                }
            },
            "/v1/forms/{form_id}/status": {
                "post": {
                    "summary": "Whether a signup was confirmed (in another tab, from the email's link)",
                    "parameters": [FORM_ID],
                    "requestBody": _posted(SIGNUP_BODY),
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"enum": ["pending", "confirmed", "expired"]}},
                            },
                            "The signup's state",
                        ),
                        **_errors(400, 403, 404, 413, 415, 422, 429),
                    },
                }
            },
            "/v1/forms/{form_id}/resend": {
                "post": {
                    "summary": "A new email with a new code, within the address's email budget",
                    "parameters": [FORM_ID],
                    "requestBody": _posted(SIGNUP_BODY),
                    "responses": {
                        "202": _json(
                            {
                                "type": "object",
                                "required": ["status", "message", "signup"],
                                "properties": {"status": {"const": "accepted"}, "signup": HANDLE},
                            },
                            "The same answer whether an email went or not, with the handle to use now",
                        ),
                        **_errors(400, 403, 404, 413, 415, 422, 429),
                    },
                }
            },
            "/v1/hooks/{form_id}": {
                "post": {
                    "summary": "A submission forwarded by a contact-form plugin, signed (see docs/hooks.md)",
                    "parameters": [
                        FORM_ID,
                        {
                            "name": "Optin-Signature",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {"schema": {"type": "object"}},
                            FORM: {"schema": {"type": "object"}},
                        },
                    },
                    "responses": {
                        "200": _json({"type": "object"}, "A valid ping"),
                        "202": _json({"type": "object"}, "Accepted (duplicate true when seen before)"),
                        **_errors(400, 401, 403, 404, 409, 413, 415, 422, 429),
                    },
                }
            },
            "/v1/contacts/{email}/export": {
                "get": {
                    "summary": "Everything held about an address (admin key with the export scope)",
                    "parameters": [EMAIL],
                    "security": BEARER,
                    "responses": {
                        "200": _json({"type": "object"}, "The contact's data"),
                        **_errors(401, 403, 404),
                    },
                }
            },
            "/v1/contacts/{email}": {
                "delete": {
                    "summary": "Erase an address, leaving only a keyed hash (admin key with the erase scope)",
                    "parameters": [EMAIL],
                    "security": BEARER,
                    "responses": {"200": _json({"type": "object"}, "Erased"), **_errors(401, 403)},
                }
            },
            "/confirm/{token}": {
                "get": {
                    "summary": "The confirmation page (changes nothing)",
                    "parameters": [TOKEN],
                    "responses": {
                        "200": _html("The page"),
                        "404": _html("Invalid link"),
                        "410": _html("Expired"),
                    },
                },
                "post": {
                    "summary": "The page's button",
                    "parameters": [TOKEN],
                    "requestBody": {
                        "content": {
                            FORM: {"schema": {"type": "object", "properties": {"nonce": {"type": "string"}}}}
                        }
                    },
                    "responses": {
                        "200": _html("The outcome"),
                        "404": _html("Invalid link"),
                        "410": _html("Expired"),
                    },
                },
            },
            "/unsubscribe/{token}": {
                "get": {
                    "summary": "The unsubscribe page",
                    "parameters": [TOKEN],
                    "responses": {"200": _html("The page"), "404": _html("Invalid link")},
                },
                "post": {
                    "summary": "Unsubscribe (also RFC 8058 one-click)",
                    "parameters": [TOKEN],
                    "responses": {"200": _html("Unsubscribed"), "404": _html("Invalid link")},
                },
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and the outbox backlog",
                    "responses": {"200": _json({"type": "object", "required": ["status"]}, "Healthy")},
                }
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())
