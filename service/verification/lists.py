"""Disposable domains, role accounts and free providers: plain lookups, no I/O.

Disposable domains come from two maintained lists, each a package with its own release cycle:
``disposable-email-domains`` (curated, with an allowlist of domains people wrongly reported) and
``mailchecker`` (FGRibreau/mailchecker, broader). Neither alone covers the well-known services
(``burnermail.io``, ``temp-mail.io``, ``33mail.com`` are only in the second). A domain matches
when it, or a parent up to the registrable domain found with the Public Suffix List
(``publicsuffixlist``), is on either list, so ``x.mailinator.com`` matches ``mailinator.com`` but
an entry never spreads to a public suffix. The first list's allowlist, our free providers and the
owner's ``disposable_allowlist`` win over both. Role accounts and free providers are our own lists.
:func:`sources` says where each list comes from and which version is loaded.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache, lru_cache
from pathlib import Path

import disposable_email_domains
import idna
import publicsuffixlist
from MailChecker import MailChecker
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


def _blocklists() -> tuple[Collection[str], ...]:
    """Both lists as the packages ship them: lowercase sets (tests/verification check it), looked
    up in turn rather than merged, so a bulk run does not pay for copying 60,000 names."""
    return disposable_email_domains.blocklist, MailChecker.blacklist


@cache
def _always_allowed() -> frozenset[str]:
    return frozenset(disposable_email_domains.allowlist) | _FREE


def registrable_domain(ascii_domain: str) -> str | None:
    """The domain a registrant owns (``mail.example.co.uk`` → ``example.co.uk``), per the PSL."""
    result: str | None = _psl().privatesuffix(ascii_domain.lower())
    return result


@cache
def _tlds() -> frozenset[str]:
    """The top-level domains in the PSL's ICANN section, read from the file the package ships.

    Cheaper than building a second PublicSuffixList for one question, and a bulk run asks it of
    every domain.
    """
    text = (Path(publicsuffixlist.__file__).parent / "public_suffix_list.dat").read_text("utf-8")
    found = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("// ===END ICANN DOMAINS==="):
            break
        if line and not line.startswith(("//", "!")):
            tld = line.rsplit(".", 1)[-1]
            found.add(tld)
            if not tld.isascii():
                try:  # Python's own IDNA codec is fast and right for every TLD but a few
                    found.add(tld.encode("idna").decode("ascii"))
                except UnicodeError:
                    found.add(idna.encode(tld).decode("ascii"))
    return frozenset(found)


@lru_cache(maxsize=4096)
def is_known_tld(ascii_domain: str) -> bool:
    """Whether the domain's top-level label exists in the PSL (``com`` yes, ``con`` no)."""
    return ascii_domain.lower().rstrip(".").rsplit(".", 1)[-1] in _tlds()


def _listed(domain: str, lists: tuple[Collection[str], ...]) -> str | None:
    """The entry of one of ``lists`` that ``domain`` falls under, or None.

    Only a parent match needs the PSL (is that parent a registrable domain, not a public suffix
    someone listed by mistake?), so the common case costs a set lookup per label.
    """
    labels = domain.split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if any(candidate in entries for entries in lists):
            if i == 0:
                return candidate
            stop = registrable_domain(domain)
            if stop is not None and len(candidate) >= len(stop):
                return candidate
            return None
    return None


@lru_cache(maxsize=65536)
def is_disposable(
    ascii_domain: str,
    *,
    extra_block: frozenset[str] = frozenset(),
    allow: frozenset[str] = frozenset(),
) -> bool:
    """Whether mail to this domain goes to a throwaway inbox; ``allow`` wins over every list."""
    domain = ascii_domain.lower().rstrip(".")
    if _listed(domain, (_always_allowed(), allow)):
        return False
    return _listed(domain, (*_blocklists(), extra_block)) is not None


_SEPARATORS = str.maketrans("", "", ".-_")


def role_kind(local: str) -> str | None:
    """``"hard"``, ``"soft"`` or None for a local part (``no-reply+x`` is ``noreply``)."""
    key = local.lower()
    if "+" in key:
        key = key.partition("+")[0]
    key = key.translate(_SEPARATORS).strip('"')
    if key in ROLE_HARD or key.startswith(("noreply", "donotreply")):
        return "hard"
    if key in ROLE_SOFT:
        return "soft"
    return None


def is_free(ascii_domain: str) -> bool:
    return ascii_domain.lower() in _FREE


def _licence(package: str) -> str:
    from importlib import metadata

    meta = metadata.metadata(package)
    found = (meta.get_all("License-Expression") or []) + (meta.get_all("License") or [])
    return str(found[0]) if found else "see the package"


def sources() -> dict[str, dict[str, str]]:
    """Where each list comes from and which version is loaded (``optin verify --version-info``)."""
    from importlib import metadata

    block = set(disposable_email_domains.blocklist) | set(MailChecker.blacklist)
    return {
        "disposable": {
            "source": "PyPI disposable-email-domains (github.com/disposable-email-domains/"
            "disposable-email-domains), blocklist and allowlist",
            "version": metadata.version("disposable-email-domains"),
            "entries": f"{len(disposable_email_domains.blocklist)} blocked,"
            f" {len(disposable_email_domains.allowlist)} allowed",
            "licence": _licence("disposable-email-domains"),
        },
        "disposable_mailchecker": {
            "source": "PyPI mailchecker (github.com/FGRibreau/mailchecker), its blacklist",
            "version": metadata.version("mailchecker"),
            "entries": f"{len(MailChecker.blacklist)} blocked",
            "licence": "MIT (package classifier)",
        },
        "disposable_combined": {
            "source": "the two lists above; their allowlist and our free providers win",
            "version": f"{metadata.version('disposable-email-domains')}+{metadata.version('mailchecker')}",
            "entries": f"{len(block)} blocked, {len(_always_allowed())} never blocked",
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
