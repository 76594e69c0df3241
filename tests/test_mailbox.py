"""mailbox_key: which inbox an address reaches, for the email budget (issue 11 #7)."""

from __future__ import annotations

import pytest

from service.limits import budget_key
from service.mailbox import mailbox_key
from service.verification import normalize


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("victim@example.org", "victim@example.org"),
        ("victim+1@example.org", "victim@example.org"),
        ("victim+news+daily@example.org", "victim@example.org"),
        ("Victim@example.org", "victim@example.org"),
        ("VICTIM+X@example.org", "victim@example.org"),
        ("first.last@example.org", "first.last@example.org"),  # dots count outside Gmail
        ("first.last+x@outlook.com", "first.last@outlook.com"),
        ("v.ic.tim@gmail.com", "victim@gmail.com"),
        ("Vic.Tim+news@gmail.com", "victim@gmail.com"),
        ("victim@googlemail.com", "victim@gmail.com"),
        ("vic.tim+1@googlemail.com", "victim@gmail.com"),
        ("first-last@yahoo.com", "first-last@yahoo.com"),  # "-" is not a tag separator
        ("+only@example.org", "+only@example.org"),  # no name before the tag: keep it whole
        ("JÜRGEN+x@example.org", "jürgen@example.org"),
        ("straße@example.org", "strasse@example.org"),  # casefold, as people type either
        ("ｖｉｃｔｉｍ＋１@example.org", "victim@example.org"),  # fullwidth: NFKC
        ("ｖ．ｉｃｔｉｍ@gmail.com", "victim@gmail.com"),
        ('"A B"@example.org', '"a b"@example.org'),
        ("shop@victim.fastmail.com", "victim@fastmail.com"),  # Fastmail subdomain addressing
        ("victim+x@fastmail.fm", "victim@fastmail.fm"),
        ("a@b.c.fastmail.com", "a@b.c.fastmail.com"),  # not a user's subdomain
        ("shop@victim.example.com", "shop@victim.example.com"),
        ('"a b+c"@example.org', '"a b+c"@example.org'),  # quoted: nothing read into it
        ("ann@münchen.de", "ann@münchen.de"),
    ],
)
def test_the_key_names_the_inbox(address: str, key: str) -> None:
    assert mailbox_key(address) == key


def test_every_spelling_of_one_inbox_shares_one_budget_key() -> None:
    spellings = ["victim@gmail.com", "V.I.C.T.I.M@gmail.com", "victim+a@googlemail.com", " Victim@GMAIL.com "]
    keys = {budget_key("secret", str(normalize(s))) for s in spellings}
    assert len(keys) == 1
    assert budget_key("secret", "victim@gmail.com") != budget_key("other-secret", "victim@gmail.com")
    assert budget_key("secret", "victim@gmail.com") != budget_key("secret", "victim2@gmail.com")


def test_a_plain_address_keeps_the_key_it_had_before_tags_were_read() -> None:
    """Budgets already counted under the old key (the lowercased address) stay counted."""
    from service.limits import address_hash

    assert budget_key("s", "ann@example.org") == address_hash("s", "ann@example.org")
    assert budget_key("s", "Ann@Example.org") == address_hash("s", "Ann@Example.org")
