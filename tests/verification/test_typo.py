"""Typo suggestions: every typo of a provider is caught, no good address is "corrected"."""

from __future__ import annotations

import pytest

from service.verification import Verifier
from service.verification.typo import keyboard_distance, suggest_domain


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gmail.con", "gmail.com"),
        ("gmial.com", "gmail.com"),
        ("gmaill.com", "gmail.com"),
        ("gmsil.com", "gmail.com"),
        ("hotmial.fr", "hotmail.fr"),
        ("hotmail.fe", "hotmail.fr"),
        ("yaho.fr", "yahoo.fr"),
        ("oragne.fr", "orange.fr"),
        ("wanado.fr", "wanadoo.fr"),
        ("laposte.nte", "laposte.net"),
        ("gmx.dr", "gmx.de"),
        ("tonline.de", "t-online.de"),
        ("libro.it", "libero.it"),
        ("protn.me", "proton.me"),
        ("tera.com.br", "terra.com.br"),
        ("icloud.con", "icloud.com"),
        ("mycompany.con", "mycompany.com"),
    ],
)
def test_suggest_domain(typed: str, meant: str) -> None:
    assert suggest_domain(typed) == meant


def test_keyboard_neighbours_cost_less() -> None:
    assert keyboard_distance("gmail.con", "gmail.com") == 0.5
    assert keyboard_distance("gmial.com", "gmail.com") == 0.5
    assert keyboard_distance("gmail.cop", "gmail.com") == 1.0
    assert keyboard_distance("abc", "abc") == 0.0


@pytest.mark.parametrize(
    ("address", "suggestion"),
    [
        ("ann@gmail.con", "ann@gmail.com"),  # NXDOMAIN
        ("ann@gmial.com", "ann@gmail.com"),  # registered, no MX
        ("ann@hotmail.fe", "ann@hotmail.fr"),
        ("ann@tera.com.br", "ann@terra.com.br"),
    ],
)
async def test_typo_without_mail_is_suggested_and_rejected(
    verifier: Verifier, address: str, suggestion: str
) -> None:
    verdict = await verifier.verify(address)
    assert verdict.suggestion == suggestion
    assert verdict.status == "undeliverable"
    assert verdict.decision == "reject"
    assert verdict.message == f"Did you mean {suggestion}?"


async def test_known_typo_domain_with_mx_is_suggested_but_only_warns(verifier: Verifier) -> None:
    verdict = await verifier.verify("ann@yahooo.com")
    assert verdict.status == "deliverable"
    assert verdict.suggestion == "ann@yahoo.com"
    assert verdict.decision == "warn"


@pytest.mark.parametrize(
    "address",
    [
        "ann@libero.it",
        "ann@live.it",
        "ann@proton.me",
        "ann@proton.de",
        "ann@terra.com.br",
        "ann@terra.com",
        "ann@uol.com.br",
        "ann@uol.com",
        "ann@gmx.net",
        "ann@web.de",
        "ann@t-online.de",
    ],
)
async def test_real_domains_with_mail_are_never_corrected(verifier: Verifier, address: str) -> None:
    verdict = await verifier.verify(address)
    assert verdict.status == "deliverable"
    assert verdict.suggestion is None
    assert verdict.decision == "accept"


async def test_no_suggestion_when_the_correction_has_no_mail_either(verifier: Verifier) -> None:
    verdict = await verifier.verify("ann@mycompany.con")
    assert verdict.status == "undeliverable"
    assert verdict.suggestion is None


async def test_missing_dot_is_suggested(verifier: Verifier) -> None:
    verdict = await verifier.verify("ann@gmailcom")
    assert verdict.reasons == ("domain_without_dot",)
    assert verdict.suggestion == "ann@gmail.com"
