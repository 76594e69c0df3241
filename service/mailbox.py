"""Which inbox an address reaches, for the per-address email budget. Pure.

The budget must count inboxes, not spellings: ``victim+1@…``, ``victim+2@…`` and ``Vic.Tim@gmail.com``
all land in one inbox. :func:`mailbox_key` is used for the budget key only; the contact keeps the
address exactly as typed, and it is what we email.

- The local part is compared without case and in Unicode compatibility form (NFKC: fullwidth
  ``ｖｉｃｔｉｍ`` is ``victim``). RFC 5321 lets a server tell such spellings apart, but a budget
  that merges two of them is only stricter, never wrong for the victim.
- A sub-address tag (RFC 5233) is dropped: everything from the first ``+``. Gmail, Outlook.com,
  iCloud, Fastmail and Proton deliver ``name+tag`` to ``name``; at a domain that does not, sharing
  a budget between ``a+b`` and ``a`` is again merely stricter.
- Dots are ignored where the provider ignores them: Gmail ("dots don't matter in Gmail
  addresses", support.google.com/mail/answer/7436150), whose googlemail.com is the same mailbox.
  Google Workspace domains do keep dots, so only these two domains.
- Fastmail's subdomain addressing is a tag too: ``anything@user.fastmail.com`` is delivered to
  ``user@fastmail.com`` (fastmail.help/hc/en-us/articles/360060591053). Only its own main
  domains are known here; a personal domain hosted at Fastmail cannot be told from its name.
- ``-`` is not treated as a tag separator: no large provider documents it for mail to arbitrary
  tags (Yahoo's "disposable addresses" are ``base-keyword`` but exist only once their owner
  creates each keyword, so a stranger cannot mint new ones).
"""

from __future__ import annotations

import unicodedata

TAG_SEPARATOR = "+"
# Domains whose provider delivers a local part with or without dots to the same inbox, and the
# one name each budget counts them under.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
# Domains where ``tag@user.domain`` reaches ``user@domain``.
SUBDOMAIN_ADDRESSING = frozenset({"fastmail.com", "fastmail.fm"})


def mailbox_key(address: str) -> str:
    """The inbox ``address`` (a normalised address: domain lowercase) reaches, as a budget key."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address.casefold()
    domain = domain.lower()
    if local.startswith('"'):  # a quoted local part: no tags or dots to read into it
        return f"{local.casefold()}@{domain}"
    local = unicodedata.normalize("NFKC", local).casefold()
    user, _, parent = domain.partition(".")
    if parent in SUBDOMAIN_ADDRESSING and user:
        local, domain = user, parent
    base, _, _tag = local.partition(TAG_SEPARATOR)
    if base:  # "+tag@…" alone: the whole local part is the name
        local = base
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "") or local
    return f"{local}@{domain}"
