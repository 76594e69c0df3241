"""The Python API: Policy and VerifierConfig from settings tables, decisions, the sync wrapper."""

from __future__ import annotations

import pytest

from service.errors import ConfigError
from service.verification import Policy, SyncVerifier, Verdict, Verifier, VerifierConfig, decide, verify_sync

from .dnszone import LoopbackDns


def test_policy_from_mapping() -> None:
    assert Policy.from_mapping({}) == Policy()
    policy = Policy.from_mapping({"reject_disposable": False, "reject_unknown": True})
    assert (policy.reject_disposable, policy.reject_unknown) == (False, True)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"reject_dispossable": True}, "unknown verification setting 'reject_dispossable'"),
        ({"warn_role": "yes"}, "must be true or false, not str 'yes'"),
        ({"check_dns": 1}, "must be true or false"),
    ],
)
def test_policy_from_mapping_explains_mistakes(table: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Policy.from_mapping(table)


def test_verifier_config_from_mapping() -> None:
    config = VerifierConfig.from_mapping(
        {"nameservers": ["127.0.0.1:5353"], "timeout": 1},
        {"deadline": 2.5, "disposable_allowlist": ["Example.ORG"], "probe": False},
    )
    assert config.nameservers == ("127.0.0.1:5353",)
    assert config.dns_timeout == 1
    assert config.deadline == 2.5
    assert config.disposable_allowlist == {"example.org"}
    assert VerifierConfig.from_mapping(None, None) == VerifierConfig()


@pytest.mark.parametrize(
    ("dns", "verification", "words"),
    [
        ({"nameserver": ["1.1.1.1"]}, {}, r"unknown setting \[dns\] 'nameserver'"),
        ({"nameservers": "1.1.1.1"}, {}, "wrong type"),
        ({"nameservers": [1]}, {}, "list of strings"),
        ({"timeout": True}, {}, "wrong type"),
        ({}, {"deadline": -1}, "positive"),
        ({}, {"probe": "on"}, "wrong type"),
    ],
)
def test_verifier_config_explains_mistakes(
    dns: dict[str, object], verification: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        VerifierConfig.from_mapping(dns, verification)


@pytest.mark.parametrize(
    ("status", "flags", "reasons", "typo", "policy", "decision"),
    [
        ("deliverable", set(), (), False, Policy(), "accept"),
        ("undeliverable", set(), (), False, Policy(), "reject"),
        ("undeliverable", set(), (), False, Policy(reject_undeliverable=False), "warn"),
        ("unknown", set(), (), False, Policy(), "accept"),
        ("unknown", set(), (), False, Policy(warn_unknown=True), "warn"),
        ("risky", {"catch_all"}, (), False, Policy(), "warn"),
        ("risky", {"catch_all"}, (), False, Policy(warn_risky=False), "accept"),
        ("deliverable", set(), (), True, Policy(), "warn"),
        ("risky", {"disposable"}, ("disposable",), False, Policy(), "reject"),
    ],
)
def test_decide(
    status: str, flags: set[str], reasons: tuple[str, ...], typo: bool, policy: Policy, decision: str
) -> None:
    assert decide(policy, status, frozenset(flags), reasons, typo) == decision  # type: ignore[arg-type]


def test_verdict_to_json() -> None:
    verdict = Verdict("a@b.org", "a@b.org", "deliverable", "accept", flags=frozenset({"role", "free"}))
    assert verdict.to_json()["flags"] == ["free", "role"]
    assert verdict.to_json()["reasons"] == []


def test_sync_wrapper(dns_server: LoopbackDns) -> None:
    config = VerifierConfig(nameservers=(dns_server.nameserver,))
    assert verify_sync("ann@gmail.con", config=config).suggestion == "ann@gmail.com"
    with SyncVerifier(config) as verifier:
        assert verifier.verify("ann@mx-ok.com").status == "deliverable"
        assert verifier.verify("ann@null-mx.com").decision == "reject"


async def test_sync_wrapper_works_inside_a_running_loop(dns_server: LoopbackDns) -> None:
    config = VerifierConfig(nameservers=(dns_server.nameserver,))
    assert verify_sync("ann@mx-ok.com", config=config).status == "deliverable"


async def test_verify_never_raises(verifier: Verifier, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(domain: str) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(verifier.dns, "check", broken)
    verdict = await verifier.verify("ann@example.org")
    assert (verdict.status, verdict.decision, verdict.reasons) == ("unknown", "accept", ("internal_error",))


MEMO_CASES = [
    "ann@gmail.com",
    "bob@gmail.com",
    "info@gmail.com",
    "noreply@gmail.com",
    "ann@gmail.con",
    "bob@gmail.con",
    "ann@gmial.com",
    "ann@yahooo.com",
    "ann@mailinator.com",
    "ann@null-mx.com",
    "ann@a-only-public.com",
    "ann@MX-OK.com",
    "bob@MX-OK.com",
    "ann@mycompany.con",
    "a" * 60 + "@mx-ok.com",
]


@pytest.mark.parametrize(
    "policy", [Policy(), Policy(reject_disposable=False, warn_free=True), Policy(check_dns=False)]
)
async def test_warm_cache_verdicts_equal_fresh_ones(dns_server: LoopbackDns, policy: Policy) -> None:
    config = VerifierConfig(nameservers=(dns_server.nameserver,))
    shared = Verifier(config)
    for address in MEMO_CASES:
        await shared.verify(address, policy)
    for address in MEMO_CASES:
        fresh = (await Verifier(config).verify(address, policy)).to_json()
        warm = shared.verify_cached(address, policy)
        assert warm is not None
        assert {**warm.to_json(), "elapsed_ms": 0} == {**fresh, "elapsed_ms": 0}
