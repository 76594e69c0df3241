"""Unsubscribe tokens name exactly the contact, form and address they were sent for (issue 11 #3)."""

from __future__ import annotations

import pytest

from service.errors import TokenInvalid
from service.tokens import UNSUBSCRIBE, Tokens

SECRET = "test-secret-key-0123456789abcdef"


def test_a_link_names_its_form_and_address_and_nothing_else() -> None:
    tokens = Tokens(SECRET)
    claim = tokens.read_unsubscribe(tokens.unsubscribe(7, "news", "alice@example.org"), 60)
    assert claim.contact_id == 7
    assert tokens.names(claim, "news", "alice@example.org", created_at=0.0)
    assert not tokens.names(claim, "news", "bob@example.org", created_at=0.0)
    assert not tokens.names(claim, "other-form", "alice@example.org", created_at=0.0)
    assert not tokens.names(claim, "news", "Alice@example.org", created_at=0.0)  # exactly as stored


def test_the_address_cannot_be_read_from_the_link() -> None:
    tokens = Tokens(SECRET)
    token = tokens.unsubscribe(7, "news", "alice@example.org")
    assert "alice" not in str(tokens.read(UNSUBSCRIBE, token, 60))
    assert Tokens("another-secret").address_binding("news", "alice@example.org") != tokens.address_binding(
        "news", "alice@example.org"
    )


def test_an_old_link_names_only_contacts_older_than_itself() -> None:
    tokens = Tokens(SECRET)
    claim = tokens.read_unsubscribe(tokens.sign(UNSUBSCRIBE, {"c": 7}), 60)
    assert claim.binding is None
    assert tokens.names(claim, "news", "alice@example.org", created_at=claim.issued_at - 5)
    assert not tokens.names(claim, "news", "bob@example.org", created_at=claim.issued_at + 0.5)


@pytest.mark.parametrize("payload", [{"c": "7"}, {"c": 7, "a": 5}, {"a": "x"}])
def test_a_malformed_payload_is_not_a_link(payload: dict[str, object]) -> None:
    tokens = Tokens(SECRET)
    with pytest.raises(TokenInvalid):
        tokens.read_unsubscribe(tokens.sign(UNSUBSCRIBE, payload), 60)
