"""Fixtures: the loopback DNS server with the test zone, and verifiers pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from service.verification import Verifier, VerifierConfig

from .dnszone import LoopbackDns, ZoneResolver, build_zone


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LoopbackDns]:
    server = LoopbackDns(ZoneResolver(build_zone(), slow_seconds=1.5)).start()
    yield server
    server.stop()


@pytest.fixture
def config(dns_server: LoopbackDns) -> VerifierConfig:
    return VerifierConfig(nameservers=(dns_server.nameserver,), dns_timeout=0.5, deadline=0.8)


@pytest.fixture
async def verifier(config: VerifierConfig) -> AsyncIterator[Verifier]:
    v = Verifier(config)
    yield v
    await v.aclose()
