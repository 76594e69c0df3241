"""Disposable, role and free lists, alone and as the verifier applies them."""

from __future__ import annotations

import pytest

from service.verification import Policy, Verifier, VerifierConfig, sources
from service.verification.lists import is_disposable, is_free, is_known_tld, registrable_domain, role_kind


def test_disposable_matches_parent_domains_up_to_the_registrable_domain() -> None:
    assert is_disposable("mailinator.com")
    assert is_disposable("x.y.mailinator.com")
    assert not is_disposable("gmail.com")
    assert not is_disposable("com")
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"


def test_allowlist_wins_and_blocklist_extends() -> None:
    assert not is_disposable("mailinator.com", allow=frozenset({"mailinator.com"}))
    assert is_disposable("throwaway.example.org", extra_block=frozenset({"example.org"}))


@pytest.mark.parametrize(
    ("local", "kind"),
    [
        ("noreply", "hard"),
        ("no-reply", "hard"),
        ("No_Reply+x", "hard"),
        ("do-not-reply", "hard"),
        ("postmaster", "hard"),
        ("abuse", "hard"),
        ("mailer-daemon", "hard"),
        ("info", "soft"),
        ("contact", "soft"),
        ("sales", "soft"),
        ("support+eu", "soft"),
        ("ann", None),
        ("information.desk", None),
        ("salesman", None),
    ],
)
def test_role_accounts(local: str, kind: str | None) -> None:
    assert role_kind(local) == kind


def test_free_providers_and_tlds() -> None:
    assert is_free("gmail.com")
    assert is_free("libero.it")
    assert not is_free("example.org")
    assert is_known_tld("example.com.br")
    assert not is_known_tld("gmail.con")


def test_sources_name_each_list_with_its_version() -> None:
    found = sources()
    assert set(found) == {
        "disposable",
        "disposable_mailchecker",
        "disposable_combined",
        "public_suffix",
        "role",
        "free",
    }
    assert found["disposable"]["version"].startswith("0.0.")
    assert "disposable-email-domains" in found["disposable"]["source"]
    assert all(entry["version"] for entry in found.values())


async def test_disposable_address_is_rejected_by_default(verifier: Verifier) -> None:
    verdict = await verifier.verify("ann@mailinator.com")
    assert verdict.status == "risky"
    assert "disposable" in verdict.flags
    assert verdict.decision == "reject"
    assert "disposable" in verdict.message
    lenient = await verifier.verify("ann@mailinator.com", Policy(reject_disposable=False))
    assert lenient.decision == "warn"


async def test_configured_allowlist_rescues_a_false_positive(config: VerifierConfig) -> None:
    verifier = Verifier(config.replace(disposable_allowlist=frozenset({"mailinator.com"})))
    verdict = await verifier.verify("ann@mailinator.com")
    assert verdict.status == "deliverable"
    assert verdict.decision == "accept"


async def test_role_accounts_warn_and_hard_ones_can_be_rejected(verifier: Verifier) -> None:
    soft = await verifier.verify("info@mx-ok.com")
    assert (soft.decision, soft.flags, soft.reasons) == ("warn", frozenset({"role"}), ("role_soft",))
    hard = await verifier.verify("noreply@mx-ok.com")
    assert hard.decision == "warn"
    assert hard.reasons == ("role_hard",)
    strict = await verifier.verify("noreply@mx-ok.com", Policy(reject_role_hard=True))
    assert strict.decision == "reject"
    quiet = await verifier.verify("info@mx-ok.com", Policy(warn_role=False))
    assert quiet.decision == "accept"


async def test_free_provider_is_a_flag_not_a_problem(verifier: Verifier) -> None:
    verdict = await verifier.verify("ann@gmail.com")
    assert verdict.flags == {"free"}
    assert verdict.decision == "accept"
    assert (await verifier.verify("ann@gmail.com", Policy(warn_free=True))).decision == "warn"
