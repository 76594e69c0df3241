"""SMTP RCPT probe (off by default), only ever against an aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from service.verification import Verifier, VerifierConfig

from .dnszone import LoopbackDns


class Mailbox:
    """Knows ann@ and bob@ everywhere; catch-all.com takes anything; greylists greylisted@."""

    def __init__(self) -> None:
        self.helo: list[str] = []
        self.mail_from: list[str] = []
        self.rcpts: list[str] = []

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.helo.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mail_from.append(address)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpts.append(address)
        local, _, domain = address.partition("@")
        if local == "greylisted":
            return "451 4.7.1 Greylisted, try again later"
        if domain == "catch-all.com" or local in {"ann", "bob"}:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return "550 5.1.1 No such user"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _config(dns_server: LoopbackDns, port: int, **changes: Any) -> VerifierConfig:
    return VerifierConfig(
        nameservers=(dns_server.nameserver,),
        probe=True,
        probe_helo="verify.optin.test",
        probe_mail_from="bounce@optin.test",
        probe_connect=f"127.0.0.1:{port}",
        probe_timeout=3.0,
        deadline=5.0,
    ).replace(**changes)


async def test_existing_missing_and_greylisted_mailboxes(
    dns_server: LoopbackDns, smtp: tuple[Mailbox, int]
) -> None:
    handler, port = smtp
    verifier = Verifier(_config(dns_server, port))
    exists = await verifier.verify("ann@mx-ok.com")
    assert (exists.status, exists.decision) == ("deliverable", "accept")
    assert "mailbox_exists" in exists.reasons
    missing = await verifier.verify("nobody-here@mx-ok.com")
    assert (missing.status, missing.decision) == ("undeliverable", "reject")
    assert "mailbox_not_found" in missing.reasons
    assert "does not exist" in missing.message
    grey = await verifier.verify("greylisted@mx-ok.com")
    assert (grey.status, grey.decision) == ("unknown", "accept")
    assert handler.helo[0] == "verify.optin.test"
    assert handler.mail_from[0] == "bounce@optin.test"


async def test_catch_all_is_risky(dns_server: LoopbackDns, smtp: tuple[Mailbox, int]) -> None:
    verifier = Verifier(_config(dns_server, smtp[1]))
    verdict = await verifier.verify("whoever@catch-all.com")
    assert verdict.status == "risky"
    assert "catch_all" in verdict.flags
    assert verdict.decision == "warn"


async def test_big_providers_are_skipped_with_a_reason(
    dns_server: LoopbackDns, smtp: tuple[Mailbox, int]
) -> None:
    handler, port = smtp
    verdict = await Verifier(_config(dns_server, port)).verify("someone@gmail.com")
    assert verdict.status == "deliverable"
    assert "probe_skipped_provider" in verdict.reasons
    assert handler.rcpts == []


async def test_probe_is_off_by_default(dns_server: LoopbackDns, smtp: tuple[Mailbox, int]) -> None:
    handler, _ = smtp
    verdict = await Verifier(VerifierConfig(nameservers=(dns_server.nameserver,))).verify(
        "nobody-here@mx-ok.com"
    )
    assert verdict.status == "deliverable"
    assert handler.rcpts == []


async def test_silent_server_hits_the_probe_deadline(dns_server: LoopbackDns) -> None:
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = int(silent.getsockname()[1])
        verifier = Verifier(_config(dns_server, port, probe_timeout=0.3))
        verdict = await verifier.verify("ann@mx-ok.com")
    assert (verdict.status, verdict.decision) == ("unknown", "accept")
    assert "probe_timeout" in verdict.reasons


async def test_unreachable_server_is_unknown(dns_server: LoopbackDns) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])  # closed again: nothing listens there
    verdict = await Verifier(_config(dns_server, port)).verify("ann@mx-ok.com")
    assert verdict.status == "unknown"
    assert "probe_unreachable" in verdict.reasons
