"""Accuracy gaps found on real lists: lookalikes of providers, trailing dots, missed disposables."""

from __future__ import annotations

import json

import disposable_email_domains
import pytest
from MailChecker import MailChecker

from service.verification import Policy, Verifier
from service.verification.cli import JsonLines, version_info
from service.verification.lists import is_disposable, is_known_tld


async def test_a_lookalike_of_a_provider_with_mail_servers_is_warned_and_suggested_not_rejected(
    verifier: Verifier,
) -> None:
    # cmail.com is on a disposable list, is one key from gmail.com, and receives mail.
    assert is_disposable("cmail.com")
    for _ in range(2):  # the slow path, then the warm cache
        verdict = await verifier.verify("ann.lee@cmail.com")
        assert verdict.decision == "warn"
        assert verdict.suggestion == "ann.lee@gmail.com"
        assert "disposable" not in verdict.flags
        assert verdict.message == "Did you mean ann.lee@gmail.com?"


async def test_a_lookalike_the_owner_blocks_is_still_refused(verifier: Verifier) -> None:
    strict = Verifier(verifier.config.replace(disposable_blocklist=frozenset({"cmail.com"})))
    verdict = await strict.verify("ann@cmail.com")
    assert verdict.decision == "reject" and "disposable" in verdict.flags


async def test_disposable_services_one_list_misses_are_caught_by_the_other(verifier: Verifier) -> None:
    assert "burnermail.io" not in disposable_email_domains.blocklist
    verdict = await verifier.verify("ann@burnermail.io")
    assert verdict.decision == "reject" and "disposable" in verdict.flags
    for domain in ("temp-mail.io", "tempmail.dev", "33mail.com", "x.mailinator.com"):
        assert is_disposable(domain), domain
    assert not is_disposable("gmail.com") and not is_disposable("com")


def test_both_lists_come_lowercase_as_the_lookup_assumes() -> None:
    for entries in (disposable_email_domains.blocklist, MailChecker.blacklist):
        assert isinstance(entries, set | frozenset)
        assert all(entry == entry.lower() for entry in entries)


def test_version_info_names_every_list_and_its_version() -> None:
    text = version_info()
    assert "disposable-email-domains" in text and "mailchecker" in text
    assert "publicsuffixlist" in text
    assert all("version" in line for line in text.splitlines())


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ann@gmail.com.", "ann@gmail.com"),
        ("Ann@GMAIL.COM.", "Ann@gmail.com"),
        (" ann@gmail.com. ", "ann@gmail.com"),
    ],
)
async def test_a_trailing_dot_is_the_root_and_is_dropped_everywhere(
    verifier: Verifier, typed: str, stored: str
) -> None:
    for _ in range(2):
        verdict = await verifier.verify(typed)
        assert verdict.decision == "accept" and verdict.normalized == stored


async def test_a_trailing_dot_does_not_hide_a_disposable_domain_or_a_typo(verifier: Verifier) -> None:
    assert (await verifier.verify("ann@mailinator.com.")).decision == "reject"
    typo = await verifier.verify("ann@gmail.con.")
    assert typo.decision == "reject" and typo.suggestion == "ann@gmail.com"
    assert (await verifier.verify("ann@gmail.com..")).reasons == ("invalid_domain",)
    assert is_known_tld("gmail.com.")


async def test_the_warm_cache_agrees_with_the_full_check_for_international_domains(
    verifier: Verifier,
) -> None:
    first = await verifier.verify("ann@münchen.de")
    again = verifier.verify_cached("bob.k@münchen.de", None)
    assert again is not None
    assert again.normalized == "bob.k@münchen.de"
    fresh = await Verifier(verifier.config).verify("bob.k@münchen.de")
    assert (again.status, again.decision, again.reasons, again.flags, again.message) == (
        fresh.status,
        fresh.decision,
        fresh.reasons,
        fresh.flags,
        fresh.message,
    )
    assert first.normalized == "ann@münchen.de"


async def test_bulk_json_lines_are_exactly_what_json_dumps_writes(verifier: Verifier) -> None:
    class Sink:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> None:
            self.text += text

    sink = Sink()
    writer = JsonLines(sink)  # type: ignore[arg-type]
    verdicts = [
        await verifier.verify(a, Policy())
        for a in ("ann@gmail.com", "ann@gmail.con", 'x"y@gmail.com', "josé@université.fr", "info@example.org")
    ]
    for verdict in verdicts:
        writer(verdict)
    writer.flush()
    assert sink.text.splitlines() == [json.dumps(v.to_json(), ensure_ascii=False) for v in verdicts]
