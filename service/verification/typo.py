"""Typo suggestions for the domain: keyboard-aware edit distance to popular providers, TLD fixes.

Pure functions. :func:`suggest_domain` proposes a correction for any domain; the verifier only
shows it when the typed domain cannot receive mail or is a known typo domain, so a real domain with
working MX that merely looks close to a provider (``live.it``, ``proton.de``, ``uol.com``) is never
"corrected". A suggestion never blocks by itself.
"""

from __future__ import annotations

from collections import Counter
from functools import cache, lru_cache

from service.verification.lists import FREE_PROVIDERS, is_known_tld

# Typo domains of big providers that are registered (some even have MX, catching mail meant for
# someone else): a suggestion is shown even when their DNS answers.
KNOWN_TYPOS: dict[str, str] = {
    "gmial.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gmal.com": "gmail.com",
    "gnail.com": "gmail.com",
    "gmaill.com": "gmail.com",
    "gmail.co": "gmail.com",
    "gmail.cm": "gmail.com",
    "gmail.om": "gmail.com",
    "hotmial.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "homail.com": "hotmail.com",
    "hotmail.co": "hotmail.com",
    "hotnail.com": "hotmail.com",
    "yahooo.com": "yahoo.com",
    "yaho.com": "yahoo.com",
    "yhoo.com": "yahoo.com",
    "outlok.com": "outlook.com",
    "outloo.com": "outlook.com",
    "iclod.com": "icloud.com",
    "icoud.com": "icloud.com",
}

# TLDs people mean when they type one that does not exist (``.con`` → ``.com``).
_COMMON_TLDS = ("com", "net", "org", "fr", "de", "it", "es", "uk", "br", "nl", "be", "ch", "pl", "ru", "edu")

_ROWS = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_STAGGER = (0.0, 0.5, 0.75, 1.25)
# Neighbours on AZERTY and QWERTZ that are far apart on QWERTY.
_LAYOUT_SWAPS = (("a", "q"), ("z", "w"), ("y", "z"), ("m", ";"))


@cache
def _adjacent() -> frozenset[tuple[str, str]]:
    pos = {c: (x + _STAGGER[r], float(r)) for r, row in enumerate(_ROWS) for x, c in enumerate(row)}
    pairs: set[tuple[str, str]] = set()
    for a, (ax, ay) in pos.items():
        for b, (bx, by) in pos.items():
            if a != b and abs(ay - by) <= 1 and abs(ax - bx) <= 1.0:
                pairs.add((a, b))
    for a, b in _LAYOUT_SWAPS:
        pairs.update({(a, b), (b, a)})
    return frozenset(pairs)


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return 0.5 if (a, b) in _adjacent() else 1.0


def keyboard_distance(typed: str, target: str) -> float:
    """Optimal-string-alignment distance: adjacent-key slips, swaps and doubled letters cost 0.5."""
    n, m = len(typed), len(target)
    prev2: list[float] = []
    prev = [float(j) for j in range(m + 1)]
    for i in range(1, n + 1):
        row = [float(i)] + [0.0] * m
        for j in range(1, m + 1):
            a, b = typed[i - 1], target[j - 1]
            # deleting a doubled letter, or inserting one, is a cheap slip
            delete = 0.5 if i > 1 and typed[i - 2] == a else 1.0
            insert = 0.5 if j > 1 and target[j - 2] == b else 1.0
            best = min(prev[j] + delete, row[j - 1] + insert, prev[j - 1] + _sub_cost(a, b))
            if i > 1 and j > 1 and a == target[j - 2] and typed[i - 2] == b:
                best = min(best, prev2[j - 2] + 0.5)
            row[j] = best
        prev2, prev = prev, row
    return prev[m]


def _allowed(target: str) -> float:
    return 1.0 if len(target) > 6 else 0.5


@cache
def _letters() -> dict[str, Counter[str]]:
    return {provider: Counter(provider) for provider in FREE_PROVIDERS}


def _far_apart(typed: Counter[str], target: Counter[str], allowed: float) -> bool:
    """A cheap lower bound on :func:`keyboard_distance`: every edit costs at least 0.5 and moves
    at most one letter in or out of each side, so letters only one side has bound the cost."""
    return max(sum((typed - target).values()), sum((target - typed).values())) * 0.5 > allowed


def _closest_provider(domain: str) -> str | None:
    best: tuple[float, str] | None = None
    typed = Counter(domain)
    letters = _letters()
    for provider in FREE_PROVIDERS:
        if abs(len(provider) - len(domain)) > 2 or _far_apart(typed, letters[provider], _allowed(provider)):
            continue
        distance = keyboard_distance(domain, provider)
        if distance <= _allowed(provider) and (best is None or distance < best[0]):
            best = (distance, provider)
    return best[1] if best else None


def _fix_tld(domain: str) -> str | None:
    if "." not in domain or is_known_tld(domain):
        return None
    name, tld = domain.rsplit(".", 1)
    best: tuple[float, str] | None = None
    for candidate in _COMMON_TLDS:
        distance = keyboard_distance(tld, candidate)
        if distance <= 1.0 and (best is None or distance < best[0]):
            best = (distance, candidate)
    return f"{name}.{best[1]}" if best else None


def is_known_typo(domain: str) -> bool:
    return domain.lower() in KNOWN_TYPOS


def resembles_provider(domain: str) -> bool:
    """Whether ``domain`` is one slip away from a big provider (and is not one itself)."""
    return _suggest(domain.lower().rstrip(".")) in _PROVIDERS


_PROVIDERS = frozenset(FREE_PROVIDERS)


def suggest_domain(domain: str) -> str | None:
    """A likely intended domain for ``domain`` (ASCII form), or None if it looks right or hopeless."""
    return _suggest(domain.lower().rstrip("."))


@lru_cache(maxsize=65536)
def _suggest(domain: str) -> str | None:
    if domain in KNOWN_TYPOS:
        return KNOWN_TYPOS[domain]
    if domain in FREE_PROVIDERS:
        return None
    provider = _closest_provider(domain)
    if provider:
        return provider
    fixed = _fix_tld(domain)
    if fixed:
        return _closest_provider(fixed) or fixed
    if "." not in domain:  # "gmailcom": the dot went missing
        for provider in FREE_PROVIDERS:
            if provider.replace(".", "") == domain:
                return provider
    return None
