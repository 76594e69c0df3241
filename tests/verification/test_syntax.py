"""Syntax and normalisation: what a person typing into a form gets back."""

from __future__ import annotations

import pytest

from service.verification import Verifier, check_syntax, normalize


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ann@example.org", "ann@example.org"),
        ("  Ann.Lee@Example.ORG \n", "Ann.Lee@example.org"),
        ("\ufeffann@example.org\u200b", "ann@example.org"),
        ("ann+news@example.org.", "ann+news@example.org"),
        ("ann@MÜNCHEN.de", "ann@münchen.de"),
        ("ann@xn--mnchen-3ya.de", "ann@münchen.de"),
        ("ann@EXAMPLE。ORG", "ann@example.org"),
        ("josé@example.org", "josé@example.org"),
        ("jose\u0301@example.org", "josé@example.org"),  # NFC
        ("伊昭傑@郵件.商務", "伊昭傑@郵件.商務"),
        ("o'brien@example.org", "o'brien@example.org"),
        ("a" * 64 + "@example.org", "a" * 64 + "@example.org"),
        # Quotes a local part does not need are dropped: it is the same mailbox.
        ('"ann"@example.org', "ann@example.org"),
        ('"\\a.b"@example.org', "a.b@example.org"),
        ('"jürgen"@example.org', "jürgen@example.org"),
        ('"ann\\ lee"@example.org', '"ann lee"@example.org'),
        # "?=" or "=" alone start nothing; only "=?" opens an encoded word.
        ("a?=b@example.org", "a?=b@example.org"),
        ("a=b?c@example.org", "a=b?c@example.org"),
    ],
)
def test_accepted_and_normalised(raw: str, normalized: str) -> None:
    parsed = check_syntax(raw)
    assert parsed.error is None, parsed
    assert parsed.normalized == normalized
    assert normalize(normalized) == normalized


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ann.example.org", "missing_at"),
        ("ann@", "missing_domain"),
        ("@example.org", "empty_local_part"),
        ("ann@@example.org", "several_at"),
        ("ann@bob@example.org", "several_at"),
        ("ann@example.org, bob@example.org", "several_addresses"),
        ("ann@example.org;bob@example.org", "several_addresses"),
        ("ann@example.org bob@example.org", "several_addresses"),
        ("Ann Lee <ann@example.org>", "display_name"),
        ("<ann@example.org>", "display_name"),
        ("ann lee@example.org", "whitespace"),
        ("ann@example.org\r\nBcc: x@y.org", "line_break"),
        ("ann\n@example.org", "line_break"),
        ("ann\x00@example.org", "control_character"),
        ("ann(comment)@example.org", "comment"),
        (".ann@example.org", "local_part_dot"),
        ("ann.@example.org", "local_part_dot"),
        ("ann..lee@example.org", "local_part_consecutive_dots"),
        ("a" * 65 + "@example.org", "local_part_too_long"),
        ("ann\\lee@example.org", "invalid_local_part"),
        ("ann\u202e@example.org", "invalid_local_part"),
        ("ann@example", "domain_without_dot"),
        ("ann@example.123", "numeric_tld"),
        ("ann@1.2.3.4", "numeric_tld"),
        ("ann@-example.org", "invalid_domain"),
        ("ann@exa_mple.org", "invalid_domain"),
        ("ann@example..org", "invalid_domain"),
        ("ann@" + "a" * 64 + ".org", "domain_label_too_long"),
        ("ann@" + ".".join(["abcdefghij"] * 24) + ".org", "domain_too_long"),
        ("a" * 64 + "@" + ".".join(["abcdefghij"] * 17) + ".org", "address_too_long"),
        ('"ann@example.org', "invalid_quoted_local_part"),
        ("ann@[300.1.1.1]", "invalid_domain_literal"),
        ("\ud800@example.org", "invalid_character"),
        # RFC 2047 encoded words: the mail library would decode them into another address.
        ("=?utf-8?q?victim?=@example.org", "encoded_word"),
        ("=?UTF-8?B?dmljdGlt?=@example.org", "encoded_word"),
        ("x=?utf-8?q?y?=@example.org", "encoded_word"),
        ("=?x@example.org", "encoded_word"),
        ("=?utf-8?q?a=0D=0Ab?=@example.org", "encoded_word"),
        ('"=?utf-8?q?victim?="@example.org', "encoded_word"),
        ("=?utf-8?q?jürgen?=@example.org", "encoded_word"),
        ("=?utf-8?q?victim?=@münchen.de", "encoded_word"),
        # What the library would rewrite on its way into a header.
        ('""@example.org', "unwritable_address"),
        ('"a..b"@example.org', "unwritable_address"),
        ("x\u2028y@example.org", "whitespace"),
        ("x\u0085y@example.org", "control_character"),
    ],
)
def test_rejected_with_a_precise_reason(raw: str, code: str) -> None:
    parsed = check_syntax(raw)
    assert parsed.normalized is None
    assert parsed.error == code
    assert parsed.message.endswith((".", "?"))


def test_international_local_part_is_flagged_smtputf8() -> None:
    assert "smtputf8" in check_syntax("josé@example.org").flags
    assert "smtputf8" not in check_syntax("jose@münchen.de").flags
    assert check_syntax("jose@münchen.de").ascii_domain == "xn--mnchen-3ya.de"


def test_every_accepted_address_reads_back_unchanged_from_an_email_header() -> None:
    from service.verification.transit import header_reading

    for raw in (
        "ann@example.org",
        "zoë@example.org",
        '"ann lee"@example.org',
        '"a\\"b"@example.org',
        "a/b%c?d#e@example.org",
        "ann@münchen.de",
        "伊昭傑@郵件.商務",
        "ann@[192.0.2.1]",
    ):
        normalized = check_syntax(raw).normalized
        assert normalized is not None and header_reading(normalized) == normalized


async def test_a_warm_cache_does_not_let_an_encoded_word_through(verifier: Verifier) -> None:
    assert (await verifier.verify("ann@example.org")).decision == "accept"
    assert verifier.verify_cached("bob@example.org") is not None  # the fast path is warm
    verdict = await verifier.verify("=?utf-8?q?ann?=@example.org")
    assert (verdict.decision, verdict.reasons) == ("reject", ("encoded_word",))
    assert "encoded word" in verdict.message


def test_quoted_local_parts_and_domain_literals_are_reported_as_such() -> None:
    assert check_syntax('"ann lee"@example.org').flags == {"quoted_local_part"}
    assert check_syntax("ann@[192.0.2.1]").flags == {"domain_literal"}
    assert check_syntax("ann@[IPv6:2001:DB8::1]").normalized == "ann@[IPv6:2001:db8::1]"


async def test_quoted_and_literal_are_rejected_by_default(verifier: Verifier) -> None:
    from service.verification import Policy

    quoted = await verifier.verify('"ann lee"@example.org')
    assert (quoted.status, quoted.decision, quoted.reasons) == (
        "undeliverable",
        "reject",
        ("quoted_local_part",),
    )
    literal = await verifier.verify("ann@[192.0.2.1]")
    assert literal.decision == "reject"
    assert literal.reasons == ("domain_literal",)
    allowed = await verifier.verify('"ann lee"@example.org', Policy(allow_quoted_local_part=True))
    assert allowed.status == "deliverable"
    assert allowed.decision == "accept"
    private_literal = await verifier.verify("ann@[10.0.0.1]", Policy(allow_domain_literal=True))
    assert private_literal.status == "undeliverable"


async def test_syntax_errors_become_a_rejecting_verdict(verifier: Verifier) -> None:
    verdict = await verifier.verify("Ann <ann@example.org>")
    assert verdict.normalized is None
    assert verdict.status == "undeliverable"
    assert verdict.decision == "reject"
    assert verdict.reasons == ("display_name",)
    assert "angle brackets" in verdict.message


async def test_smtputf8_can_be_refused_per_form(verifier: Verifier) -> None:
    from service.verification import Policy

    verdict = await verifier.verify("josé@example.org", Policy(allow_smtputf8=False))
    assert verdict.decision == "reject"
    assert verdict.reasons == ("smtputf8_not_allowed",)
    ok = await verifier.verify("josé@example.org")
    assert ok.decision == "accept"
    assert "smtputf8" in ok.flags
