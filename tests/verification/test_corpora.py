"""The isemail corpora (Dominic Sayers' v3.05 suite and hapi/isemail's) as conformance tests.

A case "passes" when our syntax check accepts exactly what the corpus calls a valid mailbox for
SMTP (categories VALID, DNSWARN and RFC5321), except where we differ on purpose. Each difference
has a key, a rule that recognises it, and a row in docs/verification.md explaining why.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from service.verification import check_syntax

CORPORA = Path(__file__).resolve().parents[1] / "data" / "corpora"  # sources: its README.md
DOCS = Path(__file__).resolve().parents[2] / "docs" / "verification.md"

ISEMAIL_ACCEPTED = {"ISEMAIL_VALID_CATEGORY", "ISEMAIL_DNSWARN", "ISEMAIL_RFC5321"}
HAPI_ACCEPTED_PREFIXES = ("valid", "rfc5321", "dns")


def _difference(address: str) -> tuple[str, bool] | None:
    """(difference key, what we do: True = accept) when we knowingly differ from the corpus."""
    if address != address.strip():
        return ("surrounding_whitespace", check_syntax(address.strip()).error is None)
    local, _, domain = address.rpartition("@")
    if "=?" in local:
        return ("encoded_word", False)
    if local == '""':
        return ("empty_quoted_local_part", False)
    if domain.endswith(".") and not domain.endswith(".."):
        return ("trailing_dot", True)
    if "@" in address and "." not in domain and not domain.startswith("["):
        return ("dotless_domain", False)
    if domain.rpartition(".")[2].isdigit():
        return ("numeric_tld", False)
    if domain.startswith("[IPv6:") and domain.endswith("]"):
        try:
            ipaddress.IPv6Address(domain[6:-1])
        except ValueError:
            return None
        return ("ipv6_literal", True)
    if any(ord(c) >= 0x1F000 or 0x10000 <= ord(c) < 0x10400 for c in domain):
        return ("idna2008_symbols", False)
    return None


def _isemail_cases() -> list[tuple[str, bool]]:
    cases = json.loads((CORPORA / "isemail" / "tests.json").read_text(encoding="utf-8"))
    return [(c["address"], c["category"] in ISEMAIL_ACCEPTED) for c in cases]


def _hapi_cases() -> list[tuple[str, bool]]:
    cases = json.loads((CORPORA / "hapi-isemail" / "tests.json").read_text(encoding="utf-8"))
    return [(address, diagnosis.startswith(HAPI_ACCEPTED_PREFIXES)) for address, diagnosis in cases]


def _check(address: str, corpus_accepts: bool) -> None:
    parsed = check_syntax(address)
    difference = _difference(address)
    expected = difference[1] if difference else corpus_accepts
    assert (parsed.error is None) is expected, (address, parsed.error, difference)
    if parsed.error is None:
        assert parsed.normalized is not None
        assert check_syntax(parsed.normalized).normalized == parsed.normalized
    else:
        assert parsed.message


@pytest.mark.parametrize(("address", "corpus_accepts"), _isemail_cases())
def test_isemail(address: str, corpus_accepts: bool) -> None:
    _check(address, corpus_accepts)


@pytest.mark.parametrize(("address", "corpus_accepts"), _hapi_cases())
def test_hapi_isemail(address: str, corpus_accepts: bool) -> None:
    _check(address, corpus_accepts)


def test_quoted_and_literal_corpus_cases_are_flagged_for_the_policy() -> None:
    for address, _ in _isemail_cases():
        parsed = check_syntax(address)
        if address.startswith('"') and parsed.error is None:
            # Quotes that are needed stay, flagged; needless ones go ("test"@ is test@).
            assert ("quoted_local_part" in parsed.flags) is parsed.local.startswith('"')
        if address.endswith("]") and check_syntax(address).error is None:
            assert "domain_literal" in check_syntax(address).flags


def test_every_difference_is_documented() -> None:
    used = {d[0] for address, _ in _isemail_cases() + _hapi_cases() if (d := _difference(address))}
    text = DOCS.read_text(encoding="utf-8")
    for key in used | {"quoted_local_part", "domain_literal"}:
        assert f"`{key}`" in text, f"docs/verification.md does not explain {key}"
