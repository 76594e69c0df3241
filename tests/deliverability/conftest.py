"""Fixtures for deliverability: DKIM keys in files, DNS answered by the loopback zone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme

from service.deliverability.dns import Dns
from service.settings import Settings
from service.verification.config import VerifierConfig
from tests.support.app_server import serve
from tests.verification.dnszone import SIGNUP_HOST, ZoneKey, dkim_test_keys


@pytest.fixture(scope="session")
def keys() -> dict[str, ZoneKey]:
    return dkim_test_keys()


@pytest.fixture
def key_file(tmp_path: Path, keys: dict[str, ZoneKey]) -> Path:
    """The private key whose public half the zone publishes for the sender-* domains (s1)."""
    path = tmp_path / "dkim.pem"
    path.write_text(keys["good"].pem, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def zone_dns(nameserver: str) -> Dns:
    return Dns(VerifierConfig(nameservers=(nameserver,), dns_timeout=1.0))


def dkim_txt(zone_dns: Dns) -> Any:
    """dkimpy's DNS function, answered by the loopback zone (never a real resolver)."""

    def txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        answer = zone_dns.txt(name.decode() if isinstance(name, bytes) else name)
        return answer.records[0].encode() if answer.records else None

    return txt


@asynccontextmanager
async def serve_https(
    configure: Callable[[str], Settings], ca: trustme.CA, tmp_path: Path, host: str = SIGNUP_HOST
) -> AsyncIterator[tuple[str, Settings]]:
    """The app over HTTPS on a loopback port, its public URL naming ``host`` (which the test zone
    resolves to 127.0.0.1), with a certificate from the test CA for the hosts the tests use."""
    pem = tmp_path / "site.pem"
    ca.issue_cert(SIGNUP_HOST, "signup.elsewhere-links.com").private_key_and_cert_chain_pem.write_to_path(
        str(pem)
    )
    async with serve(configure, public_host=host, certfile=str(pem)) as served:
        yield served
