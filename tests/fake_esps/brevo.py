"""A fake Brevo API v3 (contacts and lists), as documented."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.fake_esps.server import FakeEsp, reply

ERRORS = {
    400: ("invalid_parameter", "Invalid parameter"),
    401: ("unauthorized", "Key not found"),
    404: ("document_not_found", "List ID does not exist"),
    429: ("too_many_requests", "The expected rate limit is exceeded."),
    500: ("internal_error", "Internal server error"),
    503: ("service_unavailable", "Service temporarily unavailable"),
}


def error(status: int, message: str | None = None, code: str | None = None) -> Response:
    default_code, default_message = ERRORS.get(status, ("error", "Error"))
    return reply({"code": code or default_code, "message": message or default_message}, status)


class FakeBrevo(FakeEsp):
    vendor = "Brevo"

    def __init__(self, api_key: str = "xkeysib-test", list_id: int = 7) -> None:
        super().__init__()
        self.api_key = api_key
        self.list_id = list_id
        self.lists: dict[int, str] = {list_id: "Newsletter"}
        self.attributes = {"FIRSTNAME", "LASTNAME"}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.route("/v3/contacts", "POST", self.create)
        self.route("/v3/contacts/{identifier}", "PUT", self.update)
        self.route("/v3/contacts/lists/{list_id:int}", "GET", self.get_list)

    def add(
        self, email: str, *, blacklisted: bool = False, lists: tuple[int, ...] = (), **attributes: str
    ) -> None:
        self.contacts[email.lower()] = {
            "id": len(self.contacts) + 1,
            "email": email,
            "attributes": attributes,
            "listIds": set(lists),
            "emailBlacklisted": blacklisted,
        }

    def error_body(self, status: int) -> Any:
        code, message = ERRORS.get(status, ("error", "Error"))
        return {"code": code, "message": message}

    def error_headers(self, status: int) -> dict[str, str]:
        if status == 429:
            return {
                "x-sib-ratelimit-limit": "10",
                "x-sib-ratelimit-remaining": "0",
                "x-sib-ratelimit-reset": "3",
            }
        return {}

    def authorized(self, request: Request) -> bool:
        return request.headers.get("api-key") == self.api_key

    def _problem(self, body: dict[str, Any]) -> Response | None:
        unknown_lists = [i for i in body.get("listIds", []) if i not in self.lists]
        if unknown_lists:
            return error(404, f"List ID does not exist: {unknown_lists[0]}")
        unknown = sorted(set(body.get("attributes") or {}) - self.attributes)
        if unknown:
            return error(400, f"Attribute {unknown[0]} does not exist")
        return None

    async def create(self, request: Request, body: dict[str, Any]) -> Response:
        if failure := self._problem(body):
            return failure
        existing = self.contacts.get(body["email"].lower())
        if existing is not None and not body.get("updateEnabled"):
            return error(
                400,
                "Unable to create contact, email is already associated with another Contact",
                "duplicate_parameter",
            )
        if existing is None:
            self.add(body["email"], **(body.get("attributes") or {}))
            created = self.contacts[body["email"].lower()]
            created["listIds"].update(body.get("listIds", []))
            return reply({"id": created["id"]}, 201)
        existing["attributes"].update(body.get("attributes") or {})
        existing["listIds"].update(body.get("listIds", []))
        if "emailBlacklisted" in body:
            existing["emailBlacklisted"] = body["emailBlacklisted"]
        return Response(status_code=204)

    async def update(self, request: Request, body: dict[str, Any]) -> Response:
        if failure := self._problem(body):
            return failure
        contact = self.contacts.get(request.path_params["identifier"].lower())
        if contact is None:
            return error(404, "Contact does not exist")
        contact["attributes"].update(body.get("attributes") or {})
        contact["listIds"].update(body.get("listIds", []))
        contact["listIds"].difference_update(body.get("unlinkListIds", []))
        if "emailBlacklisted" in body:
            contact["emailBlacklisted"] = body["emailBlacklisted"]
        return Response(status_code=204)

    async def get_list(self, request: Request, body: Any) -> Response:
        list_id = request.path_params["list_id"]
        if list_id not in self.lists:
            return error(404)
        members = sum(1 for c in self.contacts.values() if list_id in c["listIds"])
        return reply(
            {
                "id": list_id,
                "name": self.lists[list_id],
                "totalBlacklisted": 0,
                "totalSubscribers": members,
                "uniqueSubscribers": members,
                "createdAt": "2026-01-01T00:00:00.000Z",
                "folderId": 1,
            }
        )
