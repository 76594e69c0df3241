"""Disposable domains, role accounts and free providers: plain lookups, no I/O.

Disposable domains come from the ``disposable-email-domains`` package (its ``blocklist`` and
``allowlist``), matched on the domain and each parent up to the registrable domain found with the
Public Suffix List (``publicsuffixlist``), so ``x.mailinator.com`` matches ``mailinator.com`` but a
list entry never spreads to a public suffix. Role accounts and free providers are our own lists.
:func:`sources` says where each list comes from and which version is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import metadata

import disposable_email_domains
from publicsuffixlist import PublicSuffixList

# Mail to these never reaches a person who asked for it, or reaches the people who handle abuse.
ROLE_HARD = frozenset(
    {
        "abuse",
        "bounce",
        "bounces",
        "devnull",
        "donotreply",
        "hostmaster",
        "mailerdaemon",
        "noc",
        "nobody",
        "noreply",
        "null",
        "postmaster",
        "root",
        "security",
        "spam",
        "unsubscribe",
    }
)
# Shared mailboxes: a real person reads them, but the list gets a team rather than a subscriber.
ROLE_SOFT = frozenset(
    {
        "accounting",
        "accounts",
        "admin",
        "administrator",
        "billing",
        "careers",
        "contact",
        "contactus",
        "customerservice",
        "enquiries",
        "enquiry",
        "feedback",
        "finance",
        "hello",
        "help",
        "helpdesk",
        "hr",
        "info",
        "jobs",
        "marketing",
        "media",
        "newsletter",
        "office",
        "orders",
        "press",
        "privacy",
        "recruitment",
        "reservations",
        "sales",
        "service",
        "support",
        "team",
        "webmaster",
    }
)

# Consumer mailbox providers, several countries; also the targets of typo suggestions.
FREE_PROVIDERS: tuple[str, ...] = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "zoho.com",
    "gmx.com",
    "gmx.net",
    "mail.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "hotmail.fr",
    "hotmail.es",
    "hotmail.it",
    "hotmail.de",
    "hotmail.co.uk",
    "outlook.fr",
    "outlook.es",
    "outlook.de",
    "live.fr",
    "live.it",
    "live.co.uk",
    "yahoo.fr",
    "yahoo.es",
    "yahoo.it",
    "yahoo.de",
    "yahoo.co.uk",
    "yahoo.co.jp",
    "yahoo.com.br",
    "ymail.com",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "neuf.fr",
    "gmx.de",
    "gmx.fr",
    "web.de",
    "t-online.de",
    "freenet.de",
    "libero.it",
    "virgilio.it",
    "tiscali.it",
    "btinternet.com",
    "sky.com",
    "terra.com.br",
    "uol.com.br",
    "bol.com.br",
    "ig.com.br",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "onet.pl",
    "naver.com",
    "daum.net",
    "qq.com",
    "163.com",
    "126.com",
    "rediffmail.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "bigpond.com",
    "shaw.ca",
    "telenet.be",
    "skynet.be",
    "ziggo.nl",
    "kpnmail.nl",
    "bluewin.ch",
)
_FREE = frozenset(FREE_PROVIDERS)


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@cache
def _disposable_sets() -> tuple[frozenset[str], frozenset[str]]:
    block = frozenset(d.lower() for d in disposable_email_domains.blocklist)
    allow = frozenset(d.lower() for d in disposable_email_domains.allowlist)
    return block, allow


def registrable_domain(ascii_domain: str) -> str | None:
    """The domain a registrant owns (``mail.example.co.uk`` → ``example.co.uk``), per the PSL."""
    result: str | None = _psl().privatesuffix(ascii_domain.lower())
    return result


@lru_cache(maxsize=4096)
def is_known_tld(ascii_domain: str) -> bool:
    """Whether the domain's top-level label exists in the PSL (``com`` yes, ``con`` no)."""
    tld = ascii_domain.lower().rsplit(".", 1)[-1]
    return bool(_strict_psl().is_public(tld))


@cache
def _strict_psl() -> PublicSuffixList:
    return PublicSuffixList(accept_unknown=False)


def _candidates(ascii_domain: str) -> Iterable[str]:
    """The domain and each parent down to (and including) the registrable domain."""
    domain = ascii_domain.lower()
    stop = registrable_domain(domain) or domain
    labels = domain.split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        yield candidate
        if candidate == stop:
            return


@lru_cache(maxsize=65536)
def is_disposable(
    ascii_domain: str,
    *,
    extra_block: frozenset[str] = frozenset(),
    allow: frozenset[str] = frozenset(),
) -> bool:
    """Whether mail to this domain goes to a throwaway inbox; ``allow`` wins over every list."""
    block, package_allow = _disposable_sets()
    for candidate in _candidates(ascii_domain):
        if candidate in allow or candidate in package_allow:
            return False
        if candidate in block or candidate in extra_block:
            return True
    return False


def role_kind(local: str) -> str | None:
    """``"hard"``, ``"soft"`` or None for a local part (``no-reply+x`` is ``noreply``)."""
    key = local.lower()
    if "+" in key:
        key = key.partition("+")[0]
    key = key.replace(".", "").replace("-", "").replace("_", "").strip('"')
    if key in ROLE_HARD or key.startswith(("noreply", "donotreply")):
        return "hard"
    if key in ROLE_SOFT:
        return "soft"
    return None


def is_free(ascii_domain: str) -> bool:
    return ascii_domain.lower() in _FREE


def _licence(package: str) -> str:
    meta = metadata.metadata(package)
    found = (meta.get_all("License-Expression") or []) + (meta.get_all("License") or [])
    return str(found[0]) if found else "see the package"


def sources() -> dict[str, dict[str, str]]:
    """Where each list comes from and which version is loaded (for docs and ``/v1/verify`` debugging)."""
    block, allow = _disposable_sets()
    return {
        "disposable": {
            "source": "PyPI disposable-email-domains (github.com/disposable-email-domains/"
            "disposable-email-domains), blocklist and allowlist",
            "version": metadata.version("disposable-email-domains"),
            "entries": f"{len(block)} blocked, {len(allow)} allowed",
            "licence": _licence("disposable-email-domains"),
        },
        "public_suffix": {
            "source": "PyPI publicsuffixlist (github.com/ko-zu/psl), bundled publicsuffix.org list",
            "version": metadata.version("publicsuffixlist"),
            "licence": _licence("publicsuffixlist"),
        },
        "role": {
            "source": "optin, service/verification/lists.py",
            "version": "1",
            "entries": f"{len(ROLE_HARD)} hard, {len(ROLE_SOFT)} soft",
        },
        "free": {
            "source": "optin, service/verification/lists.py",
            "version": "1",
            "entries": str(len(_FREE)),
        },
    }
