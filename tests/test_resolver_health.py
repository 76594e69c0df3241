"""A resolver that fails for everything must not turn every signup into "this domain does not exist"."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from service.settings import Settings
from service.verification import Verifier, VerifierConfig
from service.verification.dnshealth import ResolverWatch
from tests.support.app_server import base_config, client, make_settings, serve, wait_for
from tests.support.relay import PASSWORD, USER, Relay
from tests.verification.dnszone import LoopbackDns, ZoneResolver, build_zone


@pytest.fixture
def empty_zone() -> Iterator[LoopbackDns]:
    """A nameserver that answers "no such domain" to every name, as some sandboxes' proxies do."""
    server = LoopbackDns(ZoneResolver({})).start()
    yield server
    server.stop()


async def test_production_warns_shows_it_and_accepts_addresses_as_unknown(
    empty_zone: LoopbackDns,
    starttls_relay: Relay,
    ca_file: str,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def production(url: str) -> Settings:
        config = base_config(
            db_url,
            url,
            empty_zone.nameserver,
            server={"environment": "production"},
            smtp={
                "host": "127.0.0.1",
                "port": starttls_relay.port,
                "security": "starttls",
                "username": USER,
                "password": PASSWORD,
                "sender": "News <news@example.com>",
                "tls_ca_file": ca_file,
            },
        )
        return make_settings(config)

    with caplog.at_level(logging.WARNING, logger="optin.dns"):
        async with serve(production) as (url, _settings):
            warning = [r.getMessage() for r in caplog.records if r.name == "optin.dns"]
            assert len(warning) == 1 and warning[0].startswith("!!! DNS IS NOT WORKING: the nameservers")
            async with client(url) as http:
                health = (await http.get("/healthz")).json()
                assert health["status"] == "degraded"
                assert health["dns"]["state"] == "failing"
                assert "gmail.com: domain_not_found" in health["dns"]["detail"]

                verdict = (
                    await http.post("/v1/verify", json={"email": "ann@gmail.com", "form": "newsletter"})
                ).json()
                assert (verdict["status"], verdict["decision"]) == ("unknown", "accept")
                assert "does not exist" not in verdict["message"]
                assert verdict["reasons"][0] == "dns_unreliable"

                answer = await http.post(
                    "/v1/forms/newsletter/subscribe", json={"email": "ann@gmail.com", "consent": True}
                )
                assert answer.status_code == 202, answer.text
                await wait_for(lambda: starttls_relay.to("ann@gmail.com"), what="the confirmation email")


async def test_dns_is_trusted_again_once_the_resolver_works(empty_zone: LoopbackDns) -> None:
    verifier = Verifier(VerifierConfig(nameservers=(empty_zone.nameserver,), dns_timeout=0.5, deadline=1.0))
    watch = ResolverWatch(verifier)
    assert (await watch.check()).state == "failing"
    assert (await verifier.verify("ann@gmail.com")).status == "unknown"
    assert (await verifier.verify("bob@no-such-domain.com")).status == "unknown"

    empty_zone.resolver.zone.update(build_zone())  # the resolver is fixed
    health = await watch.check()
    assert health.state == "ok" and verifier.dns_trusted
    assert (await verifier.verify("ann@gmail.com")).status == "deliverable"
    gone = await verifier.verify("bob@no-such-domain.com")  # its "no such domain" is believed again
    assert (gone.status, gone.message) == ("undeliverable", "The domain no-such-domain.com does not exist.")
