"""A fake Mailjet API v3 REST (contacts, lists, contact metadata), as documented."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.fake_esps.server import FakeEsp, reply

MESSAGES = {
    400: "Object properties invalid",
    401: "API key authentication/authorization failure. You may be unauthorized to access the API or your "
    "API key may be expired. Visit API keys management section to check your keys.",
    404: "Object not found",
    429: "Too many requests",
    500: "Internal Server Error",
}


def error(status: int, message: str | None = None, info: Any = "") -> Response:
    return reply(
        {"ErrorInfo": info, "ErrorMessage": message or MESSAGES.get(status, "Error"), "StatusCode": status},
        status,
    )


def listing(items: list[dict[str, Any]], status: int = 200) -> Response:
    return reply({"Count": len(items), "Data": items, "Total": len(items)}, status)


class FakeMailjet(FakeEsp):
    vendor = "Mailjet"

    def __init__(self, api_key: str = "mj-public", secret_key: str = "mj-secret", list_id: int = 10) -> None:  # noqa: S107
        super().__init__()
        self.api_key, self.secret_key, self.list_id = api_key, secret_key, list_id
        self.lists = {list_id: "Newsletter"}
        self.properties = {"firstname"}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.unsub: dict[tuple[str, int], bool] = {}  # (email, list) -> IsUnsub
        p = "/v3/REST"
        self.route(p + "/contactslist/{id:int}/managecontact", "POST", self.manage)
        self.route(p + "/contactslist/{id:int}", "GET", self.get_list)
        self.route(p + "/contactmetadata", "GET", self.list_metadata)
        self.route(p + "/contactmetadata", "POST", self.define)
        self.route(p + "/contact/{email}/getcontactslists", "GET", self.contact_lists)

    def add(self, email: str, *, unsubscribed: bool = False, **properties: str) -> None:
        self.contacts[email.lower()] = {
            "ID": len(self.contacts) + 1,
            "Email": email,
            "Name": "",
            "Properties": properties,
        }
        self.unsub[(email.lower(), self.list_id)] = unsubscribed

    def error_body(self, status: int) -> Any:
        return {"ErrorInfo": "", "ErrorMessage": MESSAGES.get(status, "Error"), "StatusCode": status}

    def authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        return (
            scheme.lower() == "basic"
            and base64.b64decode(encoded).decode() == f"{self.api_key}:{self.secret_key}"
        )

    async def manage(self, request: Request, body: dict[str, Any]) -> Response:
        list_id = request.path_params["id"]
        if list_id not in self.lists:
            return error(404)
        undefined = [
            {k: "Property not defined"}
            for k in body.get("Properties") or {}
            if k.lower() not in self.properties
        ]
        if undefined:
            return error(400, info={"Properties": undefined})
        email = body["Email"].lower()
        contact = self.contacts.setdefault(
            email, {"ID": len(self.contacts) + 1, "Email": body["Email"], "Name": "", "Properties": {}}
        )
        contact["Properties"].update(body.get("Properties") or {})
        if body.get("Name"):
            contact["Name"] = body["Name"]
        key, action = (email, list_id), body["Action"]
        if action == "addforce":
            self.unsub[key] = False
        elif action == "addnoforce":
            self.unsub.setdefault(key, False)  # keeps an existing unsubscribe, as documented
        elif action == "unsub":
            self.unsub[key] = True
        elif action == "remove":
            self.unsub.pop(key, None)
        data = {
            "ContactID": contact["ID"],
            "Email": contact["Email"],
            "Action": action,
            "Name": contact["Name"],
            "Properties": contact["Properties"],
        }
        return listing([data], 201)

    async def get_list(self, request: Request, body: Any) -> Response:
        list_id = request.path_params["id"]
        if list_id not in self.lists:
            return error(404)
        count = sum(1 for (_, lid), unsub in self.unsub.items() if lid == list_id and not unsub)
        return listing(
            [
                {
                    "Address": "abc123",
                    "CreatedAt": "2026-01-01T00:00:00Z",
                    "ID": list_id,
                    "IsDeleted": False,
                    "Name": self.lists[list_id],
                    "SubscriberCount": count,
                }
            ]
        )

    async def list_metadata(self, request: Request, body: Any) -> Response:
        return listing(
            [
                {"Datatype": "str", "ID": i, "Name": n, "NameSpace": "static"}
                for i, n in enumerate(sorted(self.properties))
            ]
        )

    async def define(self, request: Request, body: dict[str, Any]) -> Response:
        if body["Name"].lower() in self.properties:
            return error(
                400, f'MJ18 A ContactMetaData resource with value "{body["Name"]}" for Name already exists.'
            )
        self.properties.add(body["Name"].lower())
        return listing([{**body, "ID": len(self.properties)}], 201)

    async def contact_lists(self, request: Request, body: Any) -> Response:
        email = request.path_params["email"].lower()
        if email not in self.contacts:
            return error(404)
        entries = [
            {"IsActive": True, "IsUnsub": unsub, "ListID": lid, "SubscribedAt": "2026-01-01T00:00:00Z"}
            for (e, lid), unsub in self.unsub.items()
            if e == email
        ]
        return listing(entries)
