"""The funnel counts what really happened: a scripted scenario, a scanner included, read back
from the store's report and from the admin's Funnel and Overview pages."""

from __future__ import annotations

import re
import time

import httpx

from service.store import open_store
from service.store.reports import FunnelRow, Reports
from tests.admin.support import signed_in, with_admin
from tests.support.app_server import (
    HOOK_SECRET,
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    sign_up,
    wait_for,
)
from tests.support.db import rows
from tests.support.relay import Relay
from tests.support.webhook_receiver import Receiver, run_receiver

STAGES = ("accepted", "emailed", "opened", "by_person", "scanner_only", "confirmed", "delivered")


def table_rows(html: str, heading_id: str) -> dict[str, list[int]]:
    """The numbers of each row of the table under ``heading_id``, by the row's name."""
    section = html.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]
    found = {}
    for name, cells in re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', section):
        found[name] = [int(n) for n in re.findall(r"<td>(\d+)", cells)]
    return found


async def scanner_visits(link: str) -> None:
    """What a mail scanner does: HEAD, GET, then a press of the button without the page's nonce."""
    async with httpx.AsyncClient(headers={"user-agent": "SafeLinks/1.0"}) as scanner:
        await scanner.head(link)
        await scanner.get(link)
        await scanner.post(link, data={})


async def test_the_funnel_matches_a_scripted_scenario(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    club = {
        "club": {"title": "Club", "consent_text": "Yes.", "antibot": {"altcha": False, "min_fill_seconds": 0}}
    }
    async with run_receiver(Receiver(HOOK_SECRET)) as hook:
        configure = with_admin(
            relay_settings(db_url, nameserver, starttls_relay, ca_file, hook.url, extra_forms=club)
        )
        async with serve(configure) as (url, _), client(url) as http:
            ann = await sign_up(http, starttls_relay, "ann@gmail.com")  # a person confirms
            bob = await sign_up(http, starttls_relay, "bob@outlook.com")  # only a scanner comes
            await sign_up(http, starttls_relay, "cy@outlook.com")  # nobody opens the email
            await confirm(http, ann)
            await scanner_visits(bob)
            starttls_relay.rcpt_reply = "550 5.1.1 no such mailbox"  # the relay refuses dee
            answer = await http.post(
                "/v1/forms/newsletter/subscribe", json={"email": "dee@orange.fr", "consent": True}
            )
            assert answer.status_code == 202
            await wait_for(
                lambda: rows(db_url, "SELECT count(*) FROM outbox WHERE state = 'dead'")[0][0] == 1,
                what="dee's confirmation email to die",
            )
            starttls_relay.rcpt_reply = None
            answer = await http.post(
                "/v1/forms/club/subscribe", json={"email": "eve@gmail.com", "consent": True}
            )
            assert answer.status_code == 202
            mail = await wait_for(lambda: starttls_relay.to("eve@gmail.com"), what="eve's email")
            await confirm(http, link_in(mail[-1], "confirm"))
            await wait_for(lambda: hook.events, what="ann on the list")
            await wait_for(
                lambda: (
                    rows(
                        db_url,
                        "SELECT count(*) FROM outbox WHERE kind = 'connector_upsert' AND state = 'done'",
                    )[0][0]
                    == 1
                ),
                what="the upsert job done",
            )

            store = await open_store(db_url)
            reports = Reports(store)
            try:
                found = {
                    (r.form_id, r.domain): r
                    for r in await reports.funnel(time.time() - 3600, time.time() + 1)
                }
            finally:
                await reports.aclose()
                await store.close()
            assert found == {
                ("newsletter", "gmail.com"): FunnelRow("newsletter", "gmail.com", 1, 1, 1, 1, 0, 1, 1),
                ("newsletter", "outlook.com"): FunnelRow("newsletter", "outlook.com", 2, 2, 1, 0, 1, 0, 0),
                ("newsletter", "orange.fr"): FunnelRow("newsletter", "orange.fr", 1, 0, 0, 0, 0, 0, 0),
                # optin's own list: no upsert job; the admin counts a confirmed contact as on it.
                ("club", "gmail.com"): FunnelRow("club", "gmail.com", 1, 1, 1, 1, 0, 1, 0),
            }

            async with client(url) as admin:
                await signed_in(admin, "reader")
                page = await admin.get("/admin/funnel?days=7")
                assert page.status_code == 200
                by_form = table_rows(page.text, "by-form")
                assert by_form == {"club": [1, 1, 1, 1, 0, 1, 1], "newsletter": [4, 3, 2, 1, 1, 1, 1]}
                by_domain = table_rows(page.text, "by-domain")
                assert by_domain == {
                    "gmail.com": [2, 2, 2, 2, 0, 2, 2],
                    "outlook.com": [2, 2, 1, 0, 1, 0, 0],
                    "orange.fr": [1, 0, 0, 0, 0, 0, 0],
                }
                overview = await admin.get("/admin/overview?days=7")
                per_form = table_rows(overview.text, "per-form")
                # signups, confirmations, unsubscribes, and the rate of confirmation in %
                assert per_form == {"club": [1, 1, 0, 100], "newsletter": [4, 1, 0, 25]}
                assert '<span class="value">40 %</span>' in overview.text  # 2 of the 5 signups
