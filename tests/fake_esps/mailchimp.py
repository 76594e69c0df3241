"""A fake Mailchimp Marketing API v3 (audiences and members), as documented."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fake_esps.server import FakeEsp, reply

TITLES = {
    400: ("Invalid Resource", "The resource submitted could not be validated."),
    401: (
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    ),
    403: ("Forbidden", "You don't have permission to access this resource."),
    404: ("Resource Not Found", "The requested resource could not be found."),
    429: ("Too Many Requests", "You have exceeded the limit of 10 simultaneous connections."),
    500: ("Internal Server Error", "An unexpected internal error has occurred."),
    503: ("Service Unavailable", "The service is temporarily unavailable."),
}


def problem(status: int, title: str | None = None, detail: str | None = None, **extra: Any) -> Response:
    default_title, default_detail = TITLES.get(status, ("Error", "Error"))
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title or default_title,
        "status": status,
        "detail": detail or default_detail,
        "instance": "00000000-0000-0000-0000-000000000000",
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@dataclass
class Audience:
    name: str
    merge_fields: set[str] = field(default_factory=lambda: {"FNAME", "LNAME"})
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    interests: set[str] = field(default_factory=set)  # the ids of the audience's interest groups


class FakeMailchimp(FakeEsp):
    vendor = "Mailchimp"

    def __init__(self, api_key: str = "0123456789abcdef-us21", list_id: str = "a1b2c3d4e5") -> None:
        super().__init__()
        self.api_key = api_key
        self.list_id = list_id
        self.lists: dict[str, Audience] = {list_id: Audience("Newsletter")}
        p = "/3.0/lists/{list_id}"
        self.route(p, "GET", self.get_list)
        self.route(p, "POST", self.batch)
        self.route(p + "/members", "POST", self.add_member)
        self.route(p + "/members/{hash}", "GET", self.get_member)
        self.route(p + "/members/{hash}", "PUT", self.put_member)
        self.route(p + "/members/{hash}", "PATCH", self.patch_member)
        self.route(p + "/members/{hash}/tags", "POST", self.tag_member)

    # -- state helpers for tests -----------------------------------------------------------------

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        return self.lists[self.list_id].members

    def member(self, email: str) -> dict[str, Any] | None:
        return self.members.get(hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest())

    def add(self, email: str, status: str = "subscribed", **merge: str) -> None:
        h = hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()
        self.members[h] = self._new(h, email, status)
        self.members[h]["merge_fields"].update(merge)

    # -- contract --------------------------------------------------------------------------------

    def error_body(self, status: int) -> Any:
        title, detail = TITLES.get(status, ("Error", "Error"))
        return {
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": "",
        }

    def authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        _, _, password = base64.b64decode(encoded).decode().partition(":")
        return password == self.api_key

    def _audience(self, request: Request) -> Audience | None:
        return self.lists.get(request.path_params["list_id"])

    def _new(self, h: str, email: str, status: str) -> dict[str, Any]:
        return {
            "id": h,
            "email_address": email,
            "unique_email_id": h[:10],
            "status": status,
            "merge_fields": {},
            "interests": {},
            "tags": [],
            "list_id": self.list_id,
        }

    def _invalid_fields(self, audience: Audience, body: dict[str, Any]) -> list[dict[str, str]]:
        unknown = set(body.get("merge_fields") or {}) - audience.merge_fields
        bad_interests = set(body.get("interests") or {}) - audience.interests
        return [
            {"field": f, "message": f"Your merge fields were invalid: {f} is not a merge field"}
            for f in unknown
        ] + [{"field": "interests", "message": f"Invalid interest ID: '{i}'"} for i in bad_interests]

    def _apply(self, member: dict[str, Any], body: dict[str, Any]) -> None:
        member["merge_fields"].update(body.get("merge_fields") or {})
        member["interests"].update(body.get("interests") or {})
        for key in ("language", "ip_opt", "timestamp_opt", "ip_signup", "timestamp_signup"):
            if key in body:
                member[key] = body[key]

    def _shown(self, member: dict[str, Any]) -> dict[str, Any]:
        tags = [{"id": i, "name": n} for i, n in enumerate(member["tags"])]
        return {**member, "tags": tags, "tags_count": len(tags)}

    async def get_list(self, request: Request, body: Any) -> Response:
        audience = self._audience(request)
        if audience is None:
            return problem(404)
        return reply(
            {"id": self.list_id, "name": audience.name, "stats": {"member_count": len(audience.members)}}
        )

    async def get_member(self, request: Request, body: Any) -> Response:
        audience = self._audience(request)
        member = audience.members.get(request.path_params["hash"]) if audience else None
        return reply(self._shown(member)) if member else problem(404)

    async def put_member(self, request: Request, body: dict[str, Any]) -> Response:
        audience, h = self._audience(request), request.path_params["hash"]
        if audience is None:
            return problem(404)
        if bad := self._invalid_fields(audience, body):
            return problem(400, errors=bad)
        member = audience.members.get(h)
        if member is None:
            email = body.get("email_address", "")
            if hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest() != h:
                return problem(400, detail="The subscriber hash does not match the email address.")
            member = audience.members[h] = self._new(h, email, body.get("status") or body["status_if_new"])
        elif "status" in body:
            member["status"] = body["status"]
        self._apply(member, body)
        return reply(self._shown(member))

    async def patch_member(self, request: Request, body: dict[str, Any]) -> Response:
        audience = self._audience(request)
        member = audience.members.get(request.path_params["hash"]) if audience else None
        if audience is None or member is None:
            return problem(404)
        if bad := self._invalid_fields(audience, body):
            return problem(400, errors=bad)
        if "status" in body:
            member["status"] = body["status"]
        self._apply(member, body)
        return reply(self._shown(member))

    async def add_member(self, request: Request, body: dict[str, Any]) -> Response:
        audience = self._audience(request)
        if audience is None:
            return problem(404)
        h = hashlib.md5(body["email_address"].lower().encode(), usedforsecurity=False).hexdigest()
        if h in audience.members:
            detail = (
                f"{body['email_address']} is already a list member. Use PUT to insert or update list members."
            )
            return problem(400, "Member Exists", detail)
        if bad := self._invalid_fields(audience, body):
            return problem(400, errors=bad)
        member = audience.members[h] = self._new(h, body["email_address"], body["status"])
        self._apply(member, body)
        return reply(self._shown(member))

    async def tag_member(self, request: Request, body: dict[str, Any]) -> Response:
        audience = self._audience(request)
        member = audience.members.get(request.path_params["hash"]) if audience else None
        if member is None:
            return problem(404)
        for tag in body["tags"]:
            if tag["status"] == "active" and tag["name"] not in member["tags"]:
                member["tags"].append(tag["name"])
        return Response(status_code=204)

    async def batch(self, request: Request, body: dict[str, Any]) -> Response:
        audience = self._audience(request)
        if audience is None:
            return problem(404)
        new, updated, errors = [], [], []
        for m in body["members"]:
            email = m["email_address"]
            h = hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()
            bad = self._invalid_fields(audience, m)
            if h in audience.members and not body.get("update_existing"):
                error = (
                    f"{email} is already a list member, do you want to update? please provide update_existing"
                )
                errors.append({"email_address": email, "error": error, "error_code": "ERROR_CONTACT_EXISTS"})
            elif bad:
                errors.append(
                    {"email_address": email, "error": bad[0]["message"], "error_code": "ERROR_GENERIC"}
                )
            elif h in audience.members:
                member = audience.members[h]
                member["status"] = m["status"]  # update_existing changes the status: why we never set it
                self._apply(member, m)
                updated.append(self._shown(member))
            else:
                member = audience.members[h] = self._new(h, email, m["status"])
                self._apply(member, m)
                new.append(self._shown(member))
        counts = {"total_created": len(new), "total_updated": len(updated), "error_count": len(errors)}
        return reply({"new_members": new, "updated_members": updated, "errors": errors, **counts})
