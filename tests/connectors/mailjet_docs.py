"""Mailjet publishes no OpenAPI document: check traffic against its documented examples.

Each entry below copies the request and response examples of Mailjet's API v3 reference
(dev.mailjet.com "Contact lists / managecontact", "Contact properties / contactmetadata",
"getcontactslists", "contactslist"). A request may use only the documented keys, with the
documented JSON types and enumerations; a success reply must carry the documented keys.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

Example = dict[str, Any]

MANAGECONTACT_REQUEST: Example = {
    "Email": "mrsmith@mailjet.com",
    "Name": "MrSmith",
    "Action": "addnoforce",
    "Properties": {"property1": "value", "propertyN": "valueN"},
}
MANAGECONTACT_RESPONSE: Example = {
    "Count": 1,
    "Data": [
        {
            "ContactID": "10",
            "Email": "mrsmith@mailjet.com",
            "Action": "addnoforce",
            "Name": "MrSmith",
            "Properties": {"property1": "value", "propertyN": "valueN"},
        }
    ],
    "Total": 1,
}
CONTACTMETADATA_REQUEST: Example = {"Datatype": "str", "Name": "Age", "NameSpace": "static"}
CONTACTMETADATA_RESPONSE: Example = {
    "Count": 1,
    "Data": [{"Datatype": "str", "ID": "", "Name": "Age", "NameSpace": "static"}],
    "Total": 1,
}
GETCONTACTSLISTS_RESPONSE: Example = {
    "Count": 1,
    "Data": [{"IsActive": "true", "IsUnsub": "false", "ListID": "1"}],
    "Total": 1,
}
CONTACTSLIST_RESPONSE: Example = {
    "Count": 1,
    "Data": [
        {"Address": "", "CreatedAt": "", "ID": "", "IsDeleted": "false", "Name": "", "SubscriberCount": ""}
    ],
    "Total": 1,
}
ENUMS = {
    "Action": {"addforce", "addnoforce", "remove", "unsub"},  # documented values
    "Datatype": {"str", "int", "float", "bool", "datetime"},
    "NameSpace": {"static", "historic"},
}
# method, path pattern (under /v3/REST) -> (request example or None, response example)
DOCUMENTED: list[tuple[str, re.Pattern[str], Example | None, Example]] = [
    ("POST", re.compile(r"/contactslist/\d+/managecontact"), MANAGECONTACT_REQUEST, MANAGECONTACT_RESPONSE),
    ("POST", re.compile(r"/contactmetadata"), CONTACTMETADATA_REQUEST, CONTACTMETADATA_RESPONSE),
    ("GET", re.compile(r"/contactmetadata"), None, CONTACTMETADATA_RESPONSE),
    ("GET", re.compile(r"/contact/[^/]+/getcontactslists"), None, GETCONTACTSLISTS_RESPONSE),
    ("GET", re.compile(r"/contactslist/\d+"), None, CONTACTSLIST_RESPONSE),
]


def _same_kind(value: Any, example: Any) -> bool:
    if isinstance(example, dict):
        return isinstance(value, dict)
    if isinstance(example, list):
        return isinstance(value, list)
    return isinstance(value, str | int | float | bool)


def request_problems(body: Any, example: Example) -> list[str]:
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = [f"undocumented key {k!r}" for k in body if k not in example]
    problems += [
        f"{k!r} is not like the example" for k in body if k in example and not _same_kind(body[k], example[k])
    ]
    problems += [
        f"{k}={body[k]!r} is not one of {sorted(ENUMS[k])}"
        for k in body
        if k in ENUMS and body[k] not in ENUMS[k]
    ]
    required = {"Email", "Action"} if "Action" in example else {"Name", "Datatype", "NameSpace"}
    problems += [f"missing {k!r}" for k in sorted(required - set(body))]
    return problems


def response_problems(body: Any, example: Example) -> list[str]:
    if not isinstance(body, dict) or set(example) - set(body):
        return [f"reply lacks the documented keys {sorted(example)}"]
    wanted = set(example["Data"][0])
    return [f"Data item lacks {sorted(wanted - set(item))}" for item in body["Data"] if wanted - set(item)]


def check(request: Request, raw: bytes, response: Response) -> list[str]:
    path = request.url.path.removeprefix("/v3/REST")
    for method, pattern, req_example, resp_example in DOCUMENTED:
        if request.method == method and pattern.fullmatch(path):
            where = f"{method} {path}"
            problems = request_problems(json.loads(raw), req_example) if req_example is not None else []
            if response.status_code < 300:
                problems += response_problems(json.loads(bytes(response.body)), resp_example)
            return [f"{where}: {p}" for p in problems]
    return [f"{request.method} {path} is not a documented Mailjet call"]
