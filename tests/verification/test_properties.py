"""Property tests: no input string makes verification raise; normalisation is idempotent."""

from __future__ import annotations

import asyncio

from aiosmtplib.email import parse_address
from hypothesis import given, settings
from hypothesis import strategies as st

from service.verification import Policy, Verifier, check_syntax, normalize
from service.verification.lists import FREE_PROVIDERS
from service.verification.syntax import parse_general
from service.verification.transit import header_reading
from service.verification.typo import suggest_domain

_LOCAL_CHARS = st.sampled_from(list("abcXYZ09.+-_'\"()<>,;:@[]\\ \t\r\né伊😀\u200d\u202e\x00=?/%#"))
_DOMAIN_CHARS = st.sampled_from(list("abcxyz019.-_[]:ÜüéΣ。😀 "))
address_like = st.builds(
    lambda local, domain, pad: f"{pad}{local}@{domain}{pad}",
    st.text(_LOCAL_CHARS, max_size=20),
    st.text(_DOMAIN_CHARS, max_size=30),
    st.sampled_from(["", " ", "\n", "\ufeff"]),
)
anything = st.one_of(st.text(), address_like, st.emails().map(str))


@given(anything)
@settings(max_examples=400, deadline=None)
def test_syntax_never_raises_and_normalisation_is_idempotent(raw: str) -> None:
    parsed = check_syntax(raw)
    assert (parsed.normalized is None) == (parsed.error is not None)
    if parsed.normalized is not None:
        assert normalize(parsed.normalized) == parsed.normalized
        assert "\n" not in parsed.normalized and "\r" not in parsed.normalized
        assert len(parsed.normalized.split("@", 1)[0].encode()) <= 64 or parsed.normalized.startswith('"')
    else:
        assert parsed.message


@given(st.emails().map(str))
@settings(max_examples=200, deadline=None)
def test_generated_valid_addresses_are_accepted(address: str) -> None:
    parsed = check_syntax(address)
    # hypothesis' emails() follow RFC 5322 dot-atoms with real TLDs: all acceptable on a form,
    # except "=?", which opens an RFC 2047 encoded word (see transit.py)
    refusals = {"address_too_long", "domain_too_long", "encoded_word"}
    assert parsed.error is None or parsed.error in refusals, (address, parsed)
    assert (parsed.error == "encoded_word") is ("=?" in address.rpartition("@")[0])


@given(st.one_of(address_like, st.emails().map(str)))
@settings(max_examples=400, deadline=None)
def test_an_accepted_address_reaches_the_header_and_the_smtp_line_unchanged(raw: str) -> None:
    normalized = check_syntax(raw).normalized
    if normalized is not None:
        assert header_reading(normalized) == normalized
        assert parse_address(normalized) == normalized


@given(st.lists(anything, min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_verify_never_raises(addresses: list[str]) -> None:
    async def run() -> None:
        verifier = Verifier()
        for address in addresses:
            verdict = await verifier.verify(address, Policy(check_dns=False))
            assert verdict.decision in {"accept", "warn", "reject"}
            assert verdict.reasons != ("internal_error",)
            assert verdict.to_json()["input"] == address

    asyncio.run(run())


@given(st.text(st.sampled_from(list("abcdefghijklmnopqrstuvwxyz.-0")), min_size=1, max_size=25))
@settings(max_examples=300, deadline=None)
def test_suggestions_change_the_domain_and_never_touch_a_provider(domain: str) -> None:
    suggestion = suggest_domain(domain)
    assert suggestion != domain
    for provider in FREE_PROVIDERS:
        assert suggest_domain(provider) is None


@given(anything)
@settings(max_examples=400, deadline=None)
def test_fast_path_agrees_with_the_general_parser(raw: str) -> None:
    assert check_syntax(raw) == parse_general(raw)
