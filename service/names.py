"""Cleaning the names visitors type, before they go anywhere near an email.

Bots put spam links in name fields so that our confirmation email carries them to a victim.
A name that looks like it holds a link or an address is dropped, not "cleaned".
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 60

# Anything a mail client might turn into a link: schemes, www., bare domains, addresses.
_LINKISH = re.compile(
    r"(?ix) (?:[a-z][a-z0-9+.-]*:/{0,2}\S) | www\. | @ | [a-z0-9-]\.[a-z]{2,}\b | \.(?:com|net|org|ru|cn|io)\b"
)
_SPACES = re.compile(r"\s+")


def looks_like_link(text: str) -> bool:
    """Whether a mail client (or an ESP's template) might turn ``text`` into a link."""
    return bool(_LINKISH.search(text))


def clean_name(raw: object) -> str | None:
    """A display-safe name, or None when there is none or it cannot be trusted."""
    if not isinstance(raw, str):
        return None
    text = "".join(ch for ch in unicodedata.normalize("NFC", raw) if unicodedata.category(ch)[0] != "C")
    text = _SPACES.sub(" ", text).strip()
    if not text or _LINKISH.search(text) or any(c in text for c in "<>{}[]\\|/"):
        return None
    return text[:MAX_NAME_LENGTH].rstrip()
