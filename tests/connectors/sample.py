"""Contacts for the connector tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from service.connectors.base import Consent, Contact

CONSENT = Consent(
    signed_up_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ip="198.51.100.7",
    user_agent="Mozilla/5.0",
    page_url="https://example.org/news",
    consent_text="Send me the newsletter",
    confirmed_at=datetime(2026, 1, 2, 3, 9, 0, tzinfo=UTC),
    confirmed_ip="198.51.100.8",
)
ANN = Contact(
    email="Ann.Lee@example.org",
    form_id="news",
    language="en",
    first_name="Ann",
    last_name="Lee",
    consent=CONSENT,
    fields={"company": "Acme"},
    tags=("spring",),
)


def person(email: str, **changes: Any) -> Contact:
    return replace(ANN, email=email, **changes)
