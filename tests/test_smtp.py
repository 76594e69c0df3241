"""The SMTP mailer against real aiosmtpd relays: TLS modes, AUTH, failures, port auto-detection."""

from __future__ import annotations

import ssl
import time
from dataclasses import replace
from email.message import EmailMessage

import pytest

from service import jobs
from service.errors import MailError
from service.mail.envelope import for_relay
from service.mail.smtp import SmtpMailer
from service.settings import Settings, SmtpSettings
from service.store import Transaction, open_store
from tests.support.app_server import client, free_port, relay_settings, serve, wait_for
from tests.support.relay import PASSWORD, USER, Relay, run_relay
from tests.test_settings import problems_of


def smtp(port: int | str, security: str, ca_file: str = "", password: str = PASSWORD) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,  # type: ignore[arg-type]
        security=security,  # type: ignore[arg-type]
        sender="News <news@example.com>",
        username=USER,
        password=password,
        tls_ca_file=ca_file,
        timeout=5.0,
    )


def message(to: str = "reader@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "News <news@example.com>", to, "hello"
    msg["Message-ID"] = "<fixed-id@example.com>"
    msg.set_content("hello")
    return msg


async def test_starttls_with_auth(starttls_relay: Relay, ca_file: str) -> None:
    reply = await SmtpMailer(smtp(starttls_relay.port, "starttls", ca_file)).send(
        message(), "reader@example.org"
    )
    assert "STARTTLS" in reply
    assert [m["Message-ID"] for m in starttls_relay.messages] == ["<fixed-id@example.com>"]


async def test_implicit_tls(server_context: ssl.SSLContext, ca_file: str) -> None:
    async with run_relay(Relay(), mode="tls", server_context=server_context) as relay:
        reply = await SmtpMailer(smtp(relay.port, "tls", ca_file)).send(message(), "reader@example.org")
        assert "implicit TLS" in reply
        assert len(relay.messages) == 1


async def test_wrong_password_is_transient_and_says_so(starttls_relay: Relay, ca_file: str) -> None:
    with pytest.raises(MailError) as caught:
        await SmtpMailer(smtp(starttls_relay.port, "starttls", ca_file, password="wrong")).send(
            message(), "reader@example.org"
        )
    assert not caught.value.permanent
    assert "username or password" in caught.value.detail and caught.value.code == 535
    assert starttls_relay.messages == []


async def test_never_plaintext_when_the_relay_offers_no_starttls(ca_file: str) -> None:
    async with run_relay(Relay(), mode="none", auth=False) as relay:
        with pytest.raises(MailError) as caught:
            await SmtpMailer(smtp(relay.port, "starttls", ca_file)).send(message(), "reader@example.org")
        assert "never sends in plaintext" in caught.value.detail
        assert relay.messages == []


async def test_untrusted_certificate_is_refused(starttls_relay: Relay) -> None:
    with pytest.raises(MailError) as caught:
        await SmtpMailer(smtp(starttls_relay.port, "starttls")).send(message(), "reader@example.org")
    assert "certificate" in caught.value.detail.lower()
    assert starttls_relay.messages == []


async def test_recipient_refused_with_5xx_is_permanent(server_context: ssl.SSLContext, ca_file: str) -> None:
    relay = Relay(rcpt_reply="550 5.1.1 no such mailbox")
    async with run_relay(relay, mode="starttls", server_context=server_context):
        with pytest.raises(MailError) as caught:
            await SmtpMailer(smtp(relay.port, "starttls", ca_file)).send(message(), "reader@example.org")
        assert caught.value.permanent and caught.value.code == 550
        assert "no such mailbox" in caught.value.detail


async def test_auto_falls_back_when_the_first_port_is_closed_and_remembers(
    starttls_relay: Relay, server_context: ssl.SSLContext, ca_file: str
) -> None:
    closed = free_port()  # nothing listens: stands for a firewalled 587
    remembered: list[str] = []

    async def remember(port: str) -> None:
        remembered.append(port)

    async with run_relay(Relay(), mode="tls", server_context=server_context) as implicit:
        order = [(closed, "starttls"), (starttls_relay.port, "starttls"), (implicit.port, "tls")]
        mailer = SmtpMailer(smtp("auto", "auto", ca_file), remember=remember, auto_order=order)  # type: ignore[arg-type]
        reply = await mailer.send(message(), "reader@example.org")
        assert f"port {starttls_relay.port}" in reply and len(starttls_relay.messages) == 1
        assert remembered == [str(starttls_relay.port)]

        # A new process recalls the port that worked and goes straight to it.
        async def recall() -> str | None:
            return str(implicit.port)

        again = SmtpMailer(smtp("auto", "auto", ca_file), recall=recall, auto_order=order)  # type: ignore[arg-type]
        assert f"port {implicit.port}" in await again.send(message(), "reader@example.org")
        assert len(implicit.messages) == 1 and len(starttls_relay.messages) == 1


async def test_auto_reports_every_port_when_none_works(ca_file: str) -> None:
    order = [(free_port(), "starttls"), (free_port(), "tls")]
    mailer = SmtpMailer(smtp("auto", "auto", ca_file), auto_order=order)  # type: ignore[arg-type]
    with pytest.raises(MailError) as caught:
        await mailer.send(message(), "reader@example.org")
    assert not caught.value.permanent
    assert "(STARTTLS): connection refused" in caught.value.detail
    assert "(implicit TLS): connection refused" in caught.value.detail


async def test_outbox_retries_a_451_and_dead_letters_a_550(
    server_context: ssl.SSLContext, ca_file: str, db_url: str, nameserver: str
) -> None:
    relay = Relay(data_replies=["451 4.3.0 try again later", "250 ok", "550 5.7.1 rejected by policy"])
    async with run_relay(relay, mode="starttls", server_context=server_context):
        async with serve(relay_settings(db_url, nameserver, relay, ca_file)) as (url, _):
            async with client(url) as http:
                first = await http.post(
                    "/v1/forms/newsletter/subscribe", json={"email": "ann@example.org", "consent": True}
                )
                assert first.status_code == 202
                await wait_for(lambda: relay.to("ann@example.org"), what="delivery after a 451")
                await http.post(
                    "/v1/forms/newsletter/subscribe", json={"email": "ben@example.org", "consent": True}
                )

                async def dead() -> bool:
                    health = (await http.get("/healthz")).json()
                    return bool(health["outbox"]["dead"] == 1)

                await wait_for(dead, what="the 550 to be dead-lettered")
    assert relay.attempts == 3 and len(relay.messages) == 1
    store = await open_store(db_url)
    try:
        jobs = {j.payload["contact_id"]: j for j in await store.jobs()}
        delivered, refused = jobs[1], jobs[2]
        assert delivered.state == "done" and delivered.attempts == 2
        assert refused.state == "dead" and refused.attempts == 1
        assert refused.last_error is not None and "550 5.7.1 rejected by policy" in refused.last_error
    finally:
        await store.close()


async def test_a_backlog_reuses_the_connection_and_survives_a_relay_restart(
    server_context: ssl.SSLContext, ca_file: str
) -> None:
    relay = Relay()
    async with run_relay(relay, mode="starttls", server_context=server_context):
        mailer = SmtpMailer(smtp(relay.port, "starttls", ca_file))
        for i in range(3):
            await mailer.send(message(f"r{i}@example.org"), f"r{i}@example.org")
        assert len(relay.messages) == 3 and relay.connections == 1
    # The relay restarts on the same port: the idle connection is dead, a new one is made.
    async with run_relay(relay, mode="starttls", server_context=server_context, port=relay.port):
        await mailer.send(message("after@example.org"), "after@example.org")
        await mailer.aclose()
    assert len(relay.messages) == 4 and relay.connections == 2


async def test_the_envelope_comes_from_the_caller_never_from_the_headers(
    starttls_relay: Relay, ca_file: str
) -> None:
    forged = message("someone-else@example.net")
    mailer = SmtpMailer(smtp(starttls_relay.port, "starttls", ca_file))
    await mailer.send(forged, "reader@example.org")
    await mailer.aclose()
    assert starttls_relay.envelopes == [("news@example.com", ("reader@example.org",))]
    assert starttls_relay.messages[0]["To"] == "reader@example.org"
    assert forged["To"] == "someone-else@example.net"  # the caller's message is left alone


@pytest.mark.parametrize(
    ("address", "smtputf8", "expected"),
    [
        ("ann@example.org", False, "ann@example.org"),
        ("ann@münchen.de", False, "ann@xn--mnchen-3ya.de"),
        ("ann@münchen.de", True, "ann@münchen.de"),
        ("jürgen@example.org", True, "jürgen@example.org"),
        ("ann@[192.0.2.1]", False, "ann@[192.0.2.1]"),
    ],
)
def test_an_address_as_the_relay_can_take_it(address: str, smtputf8: bool, expected: str) -> None:
    assert for_relay(address, smtputf8) == expected


def test_a_unicode_local_part_without_smtputf8_is_a_permanent_error_in_words() -> None:
    with pytest.raises(MailError) as refused:
        for_relay("jürgen@example.org", smtputf8=False)
    assert refused.value.permanent and "SMTPUTF8" in refused.value.detail
    assert "jürgen" not in refused.value.detail


async def test_an_address_no_smtp_command_can_carry_is_a_permanent_error(
    starttls_relay: Relay, ca_file: str
) -> None:
    mailer = SmtpMailer(smtp(starttls_relay.port, "starttls", ca_file))
    for address in ("a b@example.org", "a@example.org> NOTIFY=NEVER", "a(b)c@example.org"):
        with pytest.raises(MailError) as refused:
            await mailer.send(message(), address)
        assert refused.value.permanent and "SMTP command" in refused.value.detail
    await mailer.send(message(), "reader@example.org")  # the mailer still works
    await mailer.aclose()
    assert starttls_relay.envelopes == [("news@example.com", ("reader@example.org",))]


@pytest.mark.parametrize("connections", [1, 2])
async def test_the_outbox_sends_on_at_most_smtp_max_connections(
    connections: int, server_context: ssl.SSLContext, ca_file: str, db_url: str, nameserver: str
) -> None:
    """A backlog of confirmations to a slow relay: as many sessions as configured, each reused."""
    store = await open_store(db_url)
    try:

        def seed(tx: Transaction) -> None:
            now = time.time()
            for i in range(6):
                contact = tx.insert_contact("newsletter", f"r{i}@example.org", None, None, "en", now)
                tx.add_confirmation(f"token{i}", contact, now)
                tx.enqueue(jobs.confirmation_email(contact, f"token{i}", f"<m{i}@example.com>"), now)

        await store.write(seed)
    finally:
        await store.close()
    relay = Relay(delay=0.3)
    configure = relay_settings(db_url, nameserver, relay, ca_file)

    def limited(url: str) -> Settings:
        settings = configure(url)
        return replace(settings, smtp=replace(settings.smtp, max_connections=connections))

    async with run_relay(relay, mode="starttls", server_context=server_context):
        async with serve(limited):
            await wait_for(lambda: len(relay.messages) == 6, what="the six confirmations")
    assert relay.connections == connections


def test_settings_refuse_no_smtp_connections() -> None:
    table: dict[str, object] = {
        "smtp": {"host": "smtp.example.com", "sender": "a@example.com", "max_connections": 0}
    }
    assert "smtp.max_connections must be more than 0, not 0" in problems_of(table)
