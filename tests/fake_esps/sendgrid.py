"""A fake SendGrid Marketing Campaigns API (contacts, lists), as documented."""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.fake_esps.server import FakeEsp, reply

MESSAGES = {
    400: "invalid request",
    401: "authorization required",
    404: "list not found",
    429: "too many requests",
    500: "internal server error",
}


def errors(status: int, message: str | None = None, field: str | None = None) -> Response:
    return reply({"errors": [{"field": field, "message": message or MESSAGES.get(status, "error")}]}, status)


class FakeSendGrid(FakeEsp):
    vendor = "SendGrid"

    def __init__(
        self, api_key: str = "SG.test", list_id: str = "ca7a3796-e8a8-4029-9ccb-df8937940562"
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.list_id = list_id
        self.lists = {list_id: "Newsletter"}
        self.field_ids = {"e1_T"}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.suppressed: set[str] = set()  # global unsubscribes, apart from contacts
        self.jobs: list[str] = []
        self.route("/v3/marketing/contacts", "PUT", self.upsert)
        self.route("/v3/marketing/contacts/search/emails", "POST", self.search)
        self.route("/v3/marketing/lists/{id}", "GET", self.get_list)
        self.route("/v3/marketing/lists/{id}/contacts", "DELETE", self.remove_from_list)

    def add(self, email: str, *, suppressed: bool = False, **fields: str) -> None:
        self.contacts[email.lower()] = {"id": str(uuid.uuid4()), "email": email, "list_ids": [], **fields}
        if suppressed:
            self.suppressed.add(email.lower())

    def error_body(self, status: int) -> Any:
        return {"errors": [{"field": None, "message": MESSAGES.get(status, "error")}]}

    def error_headers(self, status: int) -> dict[str, str]:
        if status == 429:
            reset = str(int(time.time()) + 30)
            return {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        return {}

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def _job(self) -> str:
        self.jobs.append(str(uuid.uuid4()))
        return self.jobs[-1]

    async def upsert(self, request: Request, body: dict[str, Any]) -> Response:
        for list_id in body.get("list_ids", []):
            if list_id not in self.lists:
                return errors(404, f"list_ids {list_id} does not exist", "list_ids")
        for i, item in enumerate(body["contacts"]):
            for field_id in item.get("custom_fields") or {}:
                if field_id not in self.field_ids:
                    return errors(
                        400, f"custom field {field_id} does not exist", f"contacts[{i}].custom_fields"
                    )
        for item in body["contacts"]:
            contact = self.contacts.setdefault(
                item["email"].lower(), {"id": str(uuid.uuid4()), "email": item["email"], "list_ids": []}
            )
            custom = {**contact.get("custom_fields", {}), **(item.get("custom_fields") or {})}
            contact.update({k: v for k, v in item.items() if k != "custom_fields"}, custom_fields=custom)
            contact["list_ids"] = sorted(set(contact["list_ids"]) | set(body.get("list_ids", [])))
        return reply({"job_id": self._job()}, 202)

    async def search(self, request: Request, body: dict[str, Any]) -> Response:
        result: dict[str, Any] = {}
        for email in body["emails"]:
            contact = self.contacts.get(email.lower())
            if contact is not None:
                stamps = {"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
                result[email] = {"contact": {**contact, "segment_ids": [], **stamps}}
        if not result:
            return errors(404, "No contacts found")
        return reply({"result": result})

    async def get_list(self, request: Request, body: Any) -> Response:
        list_id = request.path_params["id"]
        if list_id not in self.lists:
            return errors(404)
        count = sum(1 for c in self.contacts.values() if list_id in c["list_ids"])
        return reply({"id": list_id, "name": self.lists[list_id], "contact_count": count})

    async def remove_from_list(self, request: Request, body: Any) -> Response:
        list_id = request.path_params["id"]
        if list_id not in self.lists:
            return errors(404)
        ids = set(request.query_params["contact_ids"].split(","))
        for contact in self.contacts.values():
            if contact["id"] in ids:
                contact["list_ids"] = [i for i in contact["list_ids"] if i != list_id]
        return reply({"job_id": self._job()}, 202)
