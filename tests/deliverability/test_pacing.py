"""Sending politely: a domain that defers our mail (421 4.7.0) is slowed, the rest of the queue is not."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from service.errors import MailError
from service.pacing import FIRST_PAUSE, FIRST_SPACING, Pacing, is_deferral, pacing_key
from service.store import open_store
from tests.support.app_server import client, relay_settings, serve, wait_for
from tests.support.db import execute, rows
from tests.support.relay import Relay, run_relay
from tests.test_cli import config_file, optin

OUTLOOK_BUSY = "421 4.7.0 Server busy. Please try again later from [203.0.113.5]"


class ProviderRelay(Relay):
    """A relay passing on what each recipient's provider answers: Outlook defers while ``busy``."""

    busy: bool = True
    outlook_asked: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if pacing_key(address) == "outlook.com":
            self.outlook_asked += 1
            if self.busy:
                return OUTLOOK_BUSY
        return await super().handle_RCPT(server, session, envelope, address, options)


async def test_a_deferral_slows_that_domain_only_until_it_takes_mail_again(
    db_url: str, nameserver: str, server_context: ssl.SSLContext, ca_file: str, tmp_path: Path
) -> None:
    relay = ProviderRelay()
    async with run_relay(relay, mode="starttls", server_context=server_context):
        configure = relay_settings(db_url, nameserver, relay, ca_file)
        async with serve(configure) as (url, _), client(url) as http:

            async def sign_up(email: str) -> None:
                answer = await http.post(
                    "/v1/forms/newsletter/subscribe", json={"email": email, "consent": True}
                )
                assert answer.status_code == 202

            await sign_up("ann@hotmail.com")
            await wait_for(
                lambda: rows(db_url, "SELECT strikes FROM domain_pacing WHERE domain = 'outlook.com'"),
                what="Outlook's deferral to be remembered",
            )
            for email in ("bob@outlook.com", "cy@example.org", "di@gmail.com"):
                await sign_up(email)
            # The rest of the queue goes out at once; Outlook's domains wait.
            await wait_for(lambda: relay.to("cy@example.org") and relay.to("di@gmail.com"), what="other mail")
            (strikes, not_before, reply), *_ = rows(
                db_url,
                "SELECT strikes, not_before, last_reply FROM domain_pacing WHERE domain = 'outlook.com'",
            )
            assert strikes == 1 and OUTLOOK_BUSY.removeprefix("421 ") in reply
            assert FIRST_PAUSE - 10 < not_before - time.time() <= FIRST_PAUSE

            def waiting() -> list[tuple[int, float]]:
                return rows(db_url, "SELECT attempts, run_at FROM outbox WHERE state = 'pending'")

            # Both wait for the pace (the first one's own retry comes sooner, and is held back too).
            await wait_for(lambda: all(run_at >= not_before - 1 for _, run_at in waiting()), what="both held")
            # One job met the 421 (an attempt); the other was held back by the pace, never attempted.
            assert sorted(a for a, _ in waiting()) == [0, 1]
            assert relay.outlook_asked == 1 and not relay.to("bob@outlook.com")

            # The owner sees it.
            config = config_file(tmp_path, f'[server]\ndatabase = "{db_url}"\nsecret_key = "{"s" * 32}"\n')
            code, out = await optin("--config", config, "outbox", env={})
            assert code == 0, out
            assert "Recipient domains sent to slowly (they deferred our mail):" in out
            assert "outlook.com: 1 deferral(s) in a row" in out and "Server busy" in out

            # An hour passes (the pause moved to now), Outlook accepts again: both go out, pacing ends.
            relay.busy = False
            now = time.time()
            execute(db_url, "UPDATE domain_pacing SET not_before = ? WHERE domain = 'outlook.com'", (now,))
            execute(db_url, "UPDATE outbox SET run_at = ? WHERE state = 'pending'", (now,))
            await wait_for(
                lambda: relay.to("ann@hotmail.com") and relay.to("bob@outlook.com"), what="Outlook"
            )
            await wait_for(lambda: not rows(db_url, "SELECT 1 FROM domain_pacing"), what="the pace to end")


async def test_instances_share_the_pace_and_take_one_slot_at_a_time(db_url: str) -> None:
    clock = [1_000_000.0]
    first, second = await open_store(db_url), await open_store(db_url)
    try:
        one, two = Pacing(first, lambda: clock[0]), Pacing(second, lambda: clock[0])
        assert (await one.admit("a@yahoo.fr")).paced is False  # nothing paced: no lock, no write
        until = await one.deferred("a@yahoo.fr", "421 4.7.0 [TSS04] Messages temporarily deferred")
        assert until == clock[0] + FIRST_PAUSE
        # The other instance sees it, for every domain Yahoo serves.
        for address in ("b@aol.com", "c@ymail.com", "d@yahoo.com"):
            assert (await two.admit(address)).wait_until == until
        assert (await two.admit("e@example.org")).wait_until is None

        # After the pause, sends are spaced: of many racing for a slot, one goes now.
        clock[0] = until
        admissions = await asyncio.gather(*(p.admit("f@yahoo.com") for p in (one, two) * 4))
        admitted = [a for a in admissions if a.wait_until is None]
        assert len(admitted) == 1, admissions
        assert {a.wait_until for a in admissions if a.wait_until is not None} == {until + FIRST_SPACING}

        # A second deferral doubles the pause; two deliveries lift the pacing.
        second_until = await two.deferred("g@yahoo.com", "421 4.7.0 again")
        assert second_until == clock[0] + 2 * FIRST_PAUSE
        await one.delivered("h@yahoo.com")
        assert rows(db_url, "SELECT strikes FROM domain_pacing") == [(1,)]
        await two.delivered("i@yahoo.com")
        assert rows(db_url, "SELECT strikes FROM domain_pacing") == []
        clock[0] = second_until - 1  # the row is gone: nothing is slowed any more
        assert (await one.admit("j@yahoo.com")).wait_until is None
    finally:
        await first.close()
        await second.close()


def test_only_slow_down_answers_pace_a_domain() -> None:
    def answer(code: int, text: str, in_transaction: bool = True) -> MailError:
        return MailError(f"the relay answered {code} {text}", code=code, in_transaction=in_transaction)

    slow_down = [
        answer(421, "4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred"),
        answer(451, "4.7.500 Server busy. Please try again later from [203.0.113.5]"),
        answer(450, "4.7.28 Gmail has detected an unusual rate of unsolicited mail"),
        answer(421, "Too many connections"),
    ]
    just_retry = [
        answer(451, "4.3.0 try again later"),
        answer(452, "4.2.2 The email account that you tried to reach is over quota"),
        answer(550, "5.7.1 rejected by policy"),
        answer(421, "4.7.0 too many connections from your address", in_transaction=False),  # connecting
    ]
    assert all(is_deferral(e) for e in slow_down)
    assert not any(is_deferral(e) for e in just_retry)
