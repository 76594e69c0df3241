"""Fixtures shared by the whole suite: a private CA, TLS contexts and SMTP relays on loopback."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme
from playwright.async_api import expect

from tests.support.postgres import Cluster, binaries
from tests.support.relay import Relay, run_relay
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone

# What a person waits for in the browser (a verification answered, a page drawn) arrives in well
# under a second on a quiet machine; CI's two cores run three test processes and chromium at once.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost").configure_cert(context)
    return context


@pytest.fixture
async def starttls_relay(server_context: ssl.SSLContext) -> AsyncIterator[Relay]:
    async with run_relay(Relay(), mode="starttls", server_context=server_context) as relay:
        yield relay


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A PostgreSQL 15 cluster of the session's own, started from the machine's binaries."""
    found = binaries()
    if found is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) are not installed; `make test` installs them"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    cluster = Cluster(found).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test that touches the store runs on both databases."""
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres")
        return cluster.new_database()
    return f"sqlite:///{tmp_path / 'optin.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """For tests of the SQLite file itself (its path, its permissions, the CLI beside it)."""
    return f"sqlite:///{tmp_path / 'optin.db'}"


@pytest.fixture(scope="session")
def nameserver() -> Iterator[str]:
    """The loopback DNS server with the test zone: no test ever asks a real resolver."""
    server = LoopbackDns(ZoneResolver(build_zone())).start()
    yield server.nameserver
    server.stop()
