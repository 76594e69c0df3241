"""A fake Kit API v4 (subscribers, forms, tags), as documented."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tests.fake_esps.server import FakeEsp, reply

MESSAGES = {
    401: "The access token is invalid",
    404: "Not Found",
    422: "Email address is invalid",
    500: "Internal server error",
}
STAMP = "2026-01-01T00:00:00Z"


def errors(status: int, message: str | None = None) -> Response:
    return reply({"errors": [message or MESSAGES.get(status, "Error")]}, status)


class FakeKit(FakeEsp):
    vendor = "Kit"

    def __init__(
        self, api_key: str = "kit_key", form_id: int = 4001, tag_ids: tuple[int, ...] = (71, 72)
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.form_id = form_id
        self.forms = {form_id: "Newsletter signup"}
        self.tags = {t: f"tag {t}" for t in tag_ids}
        self.custom_fields = {"Last name", "Company"}
        self.subscribers: dict[int, dict[str, Any]] = {}
        self.form_members: dict[int, set[int]] = {f: set() for f in self.forms}
        self.tagged: dict[int, set[int]] = {t: set() for t in self.tags}
        self.route("/v4/subscribers", "POST", self.create)
        self.route("/v4/subscribers", "GET", self.list_subscribers)
        self.route("/v4/subscribers/{id:int}/unsubscribe", "POST", self.unsubscribe)
        self.route("/v4/forms", "GET", self.list_forms)
        self.route("/v4/forms/{id:int}/subscribers", "POST", self.add_to_form)
        self.route("/v4/tags/{id:int}/subscribers", "POST", self.tag)
        self.route("/v4/account", "GET", self.account)

    def add(self, email: str, state: str = "active", first_name: str = "") -> dict[str, Any]:
        sid = 1000 + len(self.subscribers)
        self.subscribers[sid] = {
            "id": sid,
            "first_name": first_name,
            "email_address": email,
            "state": state,
            "created_at": STAMP,
            "fields": {},
        }
        return self.subscribers[sid]

    def by_email(self, email: str) -> dict[str, Any] | None:
        return next(
            (s for s in self.subscribers.values() if s["email_address"].lower() == email.lower()), None
        )

    def error_body(self, status: int) -> Any:
        return None if status == 429 else {"errors": [MESSAGES.get(status, "Error")]}

    def authorized(self, request: Request) -> bool:
        return request.headers.get("x-kit-api-key") == self.api_key

    async def _answer(self, request: Request, handler: Any, body: Any) -> Response:
        if self.faults and self.faults[0].status == 429:
            self.faults.popleft()
            return PlainTextResponse("Retry later", 429)  # documented: plain text, no Retry-After
        return await super()._answer(request, handler, body)

    async def create(self, request: Request, body: dict[str, Any]) -> Response:
        if "@" not in body["email_address"]:
            return errors(422)
        subscriber, status = self.by_email(body["email_address"]), 200
        if subscriber is None:
            subscriber, status = self.add(body["email_address"]), 201
        if body.get("first_name") is not None:
            subscriber["first_name"] = body["first_name"]
        known = {k: v for k, v in (body.get("fields") or {}).items() if k in self.custom_fields}
        subscriber["fields"].update(known)  # unknown fields are ignored, as documented
        return reply({"subscriber": subscriber}, status)

    async def list_subscribers(self, request: Request, body: Any) -> Response:
        status = request.query_params.get("status", "active")
        email = request.query_params.get("email_address", "")
        found = [
            s
            for s in self.subscribers.values()
            if (not email or s["email_address"].lower() == email.lower()) and status in ("all", s["state"])
        ]
        paging = {
            "has_previous_page": False,
            "has_next_page": False,
            "start_cursor": None,
            "end_cursor": None,
            "per_page": 500,
        }
        return reply(
            {
                "subscribers": [{**s, "fields": {"category": "", **s["fields"]}} for s in found],
                "pagination": paging,
            }
        )

    async def unsubscribe(self, request: Request, body: Any) -> Response:
        subscriber = self.subscribers.get(request.path_params["id"])
        if subscriber is None:
            return errors(404)
        subscriber["state"] = "cancelled"
        return Response(status_code=204)

    async def _join(self, members: dict[int, set[int]], request: Request, body: dict[str, Any]) -> Response:
        group = members.get(request.path_params["id"])
        subscriber = self.by_email(body.get("email_address", ""))
        if group is None or subscriber is None:
            return errors(404)
        # Assumed (not documented either way): joining a form or tag reactivates a cancelled
        # subscriber. The fake behaves that way so tests prove we never ask it to.
        subscriber["state"] = "active"
        status = 200 if subscriber["id"] in group else 201
        group.add(subscriber["id"])
        return reply({"subscriber": {**subscriber, "added_at": STAMP, "tagged_at": STAMP}}, status)

    async def add_to_form(self, request: Request, body: dict[str, Any]) -> Response:
        return await self._join(self.form_members, request, body)

    async def tag(self, request: Request, body: dict[str, Any]) -> Response:
        return await self._join(self.tagged, request, body)

    async def list_forms(self, request: Request, body: Any) -> Response:
        forms = [
            {
                "id": i,
                "name": n,
                "created_at": STAMP,
                "type": "embed",
                "format": "inline",
                "embed_js": "",
                "embed_url": "",
                "archived": False,
                "uid": f"u{i}",
            }
            for i, n in self.forms.items()
        ]
        paging = {
            "has_previous_page": False,
            "has_next_page": False,
            "start_cursor": None,
            "end_cursor": None,
            "per_page": 1000,
        }
        return reply({"forms": forms, "pagination": paging})

    async def account(self, request: Request, body: Any) -> Response:
        return reply(
            {
                "user": {"email": "owner@example.org"},
                "account": {
                    "name": "Example",
                    "plan_type": "creator",
                    "primary_email_address": "owner@example.org",
                    "id": 5,
                },
            }
        )
