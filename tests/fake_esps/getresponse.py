"""A fake GetResponse API v3 (campaigns and contacts), as documented."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.fake_esps.server import FakeEsp, reply

ERRORS: dict[int, tuple[int | None, str]] = {
    400: (1000, "Validation error, see context section for more information"),
    401: (1014, "Unable to authenticate request. Check credentials or authentication method details"),
    404: (1013, "Resource not found"),
    409: (1008, "Contact already added"),
    429: (None, "Throttling limit exceeded"),
    500: (None, "Internal server error"),
    503: (None, "Service unavailable - server is currently unable to handle the request"),
}


def error(status: int, code: int | None = None, message: str | None = None, context: Any = None) -> Response:
    default_code, default_message = ERRORS.get(status, (None, "Error"))
    body: dict[str, Any] = {
        "httpStatus": status,
        "message": message or default_message,
        "context": context or [],
    }
    if code or default_code:
        body["code"] = code or default_code
    return reply(body, status)


class FakeGetResponse(FakeEsp):
    vendor = "GetResponse"

    def __init__(self, api_key: str = "gr-key", campaign_id: str = "V8bN") -> None:
        super().__init__()
        self.api_key = api_key
        self.campaign_id = campaign_id
        self.campaigns = {campaign_id: "newsletter"}
        self.field_ids = {"pY7c"}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.blocked: set[str] = set()  # unsubscribed or blacklisted addresses
        self.route("/v3/contacts", "POST", self.create)
        self.route("/v3/contacts", "GET", self.search)
        self.route("/v3/contacts/batch", "POST", self.batch)
        self.route("/v3/contacts/{id}", "POST", self.update)
        self.route("/v3/contacts/{id}", "DELETE", self.delete)
        self.route("/v3/campaigns/{id}", "GET", self.get_campaign)

    def in_campaign(self, email: str) -> dict[str, Any] | None:
        return next((c for c in self.contacts.values() if c["email"].lower() == email.lower()), None)

    def add(self, email: str, **details: Any) -> dict[str, Any]:
        contact_id = f"c{len(self.contacts) + 1}"
        self.contacts[contact_id] = {
            "contactId": contact_id,
            "email": email,
            "name": "",
            "tags": [],
            "customFieldValues": [],
            "campaign": {"campaignId": self.campaign_id},
        }
        self.contacts[contact_id].update(details)
        return self.contacts[contact_id]

    def error_body(self, status: int) -> Any:
        code, message = ERRORS.get(status, (None, "Error"))
        body: dict[str, Any] = {"httpStatus": status, "message": message, "context": []}
        if code:
            body["code"] = code
        if status == 429:
            body["context"] = {"timeToReset": "598 seconds"}
        return body

    def error_headers(self, status: int) -> dict[str, str]:
        if status == 429:
            return {
                "X-RateLimit-Limit": "30000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "598 seconds",
            }
        return {}

    def authorized(self, request: Request) -> bool:
        return request.headers.get("x-auth-token") == f"api-key {self.api_key}"

    def _invalid(self, body: dict[str, Any]) -> Response | None:
        for value in body.get("customFieldValues") or []:
            if value["customFieldId"] not in self.field_ids:
                return error(
                    400, context=[f"customFieldValues: custom field {value['customFieldId']} not found"]
                )
        return None

    def _apply(self, contact: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("name", "dayOfCycle", "ipAddress"):
            if key in body:
                contact[key] = body[key]
        values = {v["customFieldId"]: v for v in contact["customFieldValues"]}
        values.update({v["customFieldId"]: v for v in body.get("customFieldValues") or []})
        contact["customFieldValues"] = list(values.values())
        contact["tags"] = sorted({*contact["tags"], *(t["tagId"] for t in body.get("tags") or [])})

    async def create(self, request: Request, body: dict[str, Any]) -> Response:
        if body["campaign"]["campaignId"] not in self.campaigns:
            return error(400, context=["campaign.campaignId: campaign not found"])
        if failure := self._invalid(body):
            return failure
        if body["email"].lower() in self.blocked:
            return error(400, 1002, "Cannot add a contact that is blocked")
        if self.in_campaign(body["email"]) is not None:
            return error(409)
        self._apply(self.add(body["email"]), body)
        return Response(status_code=202)

    async def search(self, request: Request, body: Any) -> Response:
        email = request.query_params.get("query[email]", "")
        found = [c for c in self.contacts.values() if c["email"].lower() == email.lower()]
        shown = [
            {k: c[k] for k in ("contactId", "email", "name", "campaign", "customFieldValues")} for c in found
        ]
        return reply(shown)

    async def update(self, request: Request, body: dict[str, Any]) -> Response:
        contact = self.contacts.get(request.path_params["id"])
        if contact is None:
            return error(404)
        if failure := self._invalid(body):
            return failure
        self._apply(contact, body)
        return reply({k: contact[k] for k in ("contactId", "email", "name", "campaign", "customFieldValues")})

    async def delete(self, request: Request, body: Any) -> Response:
        if self.contacts.pop(request.path_params["id"], None) is None:
            return error(404)
        return Response(status_code=204)

    async def batch(self, request: Request, body: dict[str, Any]) -> Response:
        if body["campaignId"] not in self.campaigns:
            return error(400, context=["campaignId: campaign not found"])
        for item in body["contacts"]:
            if item["email"].lower() in self.blocked:
                continue
            self._apply(self.in_campaign(item["email"]) or self.add(item["email"]), item)
        return Response(status_code=202)

    async def get_campaign(self, request: Request, body: Any) -> Response:
        campaign_id = request.path_params["id"]
        if campaign_id not in self.campaigns:
            return error(404)
        return reply({"campaignId": campaign_id, "name": self.campaigns[campaign_id], "languageCode": "en"})
