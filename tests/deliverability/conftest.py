"""Fixtures for deliverability: DKIM keys in files, DNS answered by the loopback zone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.deliverability.dns import Dns
from service.verification.config import VerifierConfig
from tests.verification.dnszone import ZoneKey, dkim_test_keys


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
