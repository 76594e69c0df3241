"""Every admin page and action with odd values in every parameter it reads: an answer in words,
never a 500 (on both databases: PostgreSQL refuses a NUL in any text it is given)."""

from __future__ import annotations

from tests.admin.support import signed_in, with_admin
from tests.support.app_server import client, relay_settings, serve
from tests.support.relay import Relay

ODD = (
    "\u0000",
    "a\u0000b",
    "²",
    "-1",
    "1e309",
    "nan",
    "9" * 400,
    "9" * 5000,  # past Python's 4,300 digits for int()
    "\u202e",
    "'; DROP TABLE contacts; --",
    "%00",
    "x" * 5000,
)
PAGES = (
    "/admin",
    "/admin/overview",
    "/admin/funnel",
    "/admin/outbox",
    "/admin/connectors",
    "/admin/contacts",
)
QUERY = ("page", "days", "form", "lang", "state", "kind", "connector", "done")
ACTIONS = (
    "/admin/outbox/retry",
    "/admin/outbox/drop",
    "/admin/connectors/test",
    "/admin/contacts",
    "/admin/contacts/export",
    "/admin/contacts/erase",
)
FIELDS = ("email", "confirm", "form", "check_only", "all_dead", "job", "state", "kind", "connector")


async def test_odd_values_in_every_admin_parameter_are_answered_without_a_500(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    failures: list[str] = []
    async with serve(configure) as (url, _), client(url) as http:
        csrf = await signed_in(http, "ops")
        for odd in ODD:
            for page in PAGES:
                answer = await http.get(page, params={name: odd for name in QUERY})
                if answer.status_code >= 500:
                    failures.append(f"GET {page} {odd[:20]!r}: {answer.status_code}")
            for action in ACTIONS:
                answer = await http.post(action, data={"csrf": csrf, **{name: odd for name in FIELDS}})
                if answer.status_code >= 500:
                    failures.append(f"POST {action} {odd[:20]!r}: {answer.status_code}")
        assert (await http.get("/admin/overview")).status_code == 200  # still signed in, still working
    assert failures == []
