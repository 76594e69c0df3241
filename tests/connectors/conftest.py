"""Fixtures: each fake ESP runs on loopback with its OpenAPI checker plugged in.

Every request a connector sends during a test is validated against the vendor's published
document, loaded when the fixture is set up (a missing or broken one fails the test there, with
the file and the reason); a fixture fails at teardown when any request (or the fake's reply)
broke it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from tests.connectors import mailjet_docs, specs
from tests.fake_esps.brevo import FakeBrevo
from tests.fake_esps.getresponse import FakeGetResponse
from tests.fake_esps.kit import FakeKit
from tests.fake_esps.mailchimp import FakeMailchimp
from tests.fake_esps.mailjet import FakeMailjet
from tests.fake_esps.sendgrid import FakeSendGrid
from tests.fake_esps.server import FakeEsp

F = TypeVar("F", bound=FakeEsp)


async def serve(fake: F, *, contract: bool = True) -> AsyncIterator[F]:
    if contract:
        fake.checker = specs.checker(specs.contract(fake.vendor))
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert fake.violations == [], f"{fake.vendor} contract broken:\n" + "\n".join(fake.violations)


@pytest.fixture
async def mailchimp() -> AsyncIterator[FakeMailchimp]:
    async for fake in serve(FakeMailchimp()):
        yield fake


@pytest.fixture
async def brevo() -> AsyncIterator[FakeBrevo]:
    async for fake in serve(FakeBrevo()):
        yield fake


@pytest.fixture
async def sendgrid() -> AsyncIterator[FakeSendGrid]:
    async for fake in serve(FakeSendGrid()):
        yield fake


@pytest.fixture
async def getresponse() -> AsyncIterator[FakeGetResponse]:
    async for fake in serve(FakeGetResponse()):
        yield fake


@pytest.fixture
async def kit() -> AsyncIterator[FakeKit]:
    async for fake in serve(FakeKit()):
        yield fake


@pytest.fixture
async def mailjet() -> AsyncIterator[FakeMailjet]:
    fake = FakeMailjet()
    fake.checker = mailjet_docs.check  # no OpenAPI document: the documented examples
    async for served in serve(fake, contract=False):
        yield served
