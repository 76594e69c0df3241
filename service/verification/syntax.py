"""Address syntax for what signup forms really receive, and its normalisation.

Pure functions, no I/O. :func:`check_syntax` accepts RFC 5321 mailbox syntax (dot-atom local parts,
quoted local parts and address literals *reported as such*), RFC 6531 internationalised local parts
(flagged ``smtputf8``) and IDNA2008/UTS-46 domains. It refuses what a person pasting into a form
gets wrong (spaces, several addresses, display names, comments, line breaks) with a precise reason.

Normalisation: trim, Unicode NFC, lowercase the domain (UTS-46 mapping), keep the local part as
typed (RFC 5321 says it may be case-sensitive) but drop quotes it does not need (``"ann"@x`` is
``ann@x``, RFC 5322 section 3.4.1). ``ascii_domain`` is the punycode form for DNS.

An address that would not reach the relay as typed (RFC 2047 encoded words, anything the email
library would rewrite) is refused: see :mod:`service.verification.transit`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import idna

from service.verification.transit import ENCODED_WORD_MESSAGE, encoded_word_in, transit_problem

_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
# The common case, decided without the general parser: an ASCII dot-atom, one @, an ASCII domain.
SIMPLE_ADDRESS = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@([A-Za-z0-9][A-Za-z0-9.-]*)"
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_BAD_UNICODE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})  # ZWNJ/ZWJ appear inside emoji and Indic names
_INVISIBLE_EDGES = "\ufeff\u200b\u2060"  # BOM and zero-width spaces pasted around addresses
_QUOTED_PAIR = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Parsed:
    """The outcome of parsing one address: either ``normalized`` or an ``error`` code."""

    normalized: str | None
    error: str | None = None
    message: str = ""
    local: str = ""
    domain: str = ""  # Unicode form, lowercase
    ascii_domain: str = ""  # punycode form for DNS ("" for an address literal)
    flags: frozenset[str] = frozenset()


def _fail(code: str, message: str) -> Parsed:
    return Parsed(None, code, message)


def _quoted_end(text: str) -> int | None:
    """Index just after the closing quote of a quoted local part (RFC 5321 Quoted-string)."""
    i = 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or not 32 <= ord(text[i + 1]) <= 126:
                return None
            i += 2
            continue
        if c == '"':
            return i + 1
        if not (ord(c) in (32, 33) or 35 <= ord(c) <= 91 or 93 <= ord(c) <= 126 or ord(c) > 127):
            return None
        i += 1
    return None


def _simplest_quoted(quoted: str) -> str:
    """The simplest spelling of the same quoted local part (RFC 5322 3.4.1, RFC 5321 4.1.2):
    quoted pairs unescaped, the quotes dropped when the content is a dot-atom, else only ``"``
    and ``\\`` escaped. The email library writes headers this way, so ours must agree."""
    content = _QUOTED_PAIR.sub(r"\1", quoted[1:-1])
    if _check_local(content) is None:  # a dot-atom (RFC 6532 allows UTF-8 in it)
        return content
    return '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_local(local: str) -> Parsed | None:
    if not local:
        return _fail("empty_local_part", "Something is missing before the @.")
    if len(local.encode("utf-8")) > 64:
        return _fail("local_part_too_long", "The part before the @ is longer than 64 characters.")
    if local.startswith(".") or local.endswith("."):
        return _fail("local_part_dot", "The part before the @ cannot start or end with a dot.")
    if ".." in local:
        return _fail("local_part_consecutive_dots", "The part before the @ has two dots in a row.")
    for c in local:
        if c == "." or c in _ATEXT:
            continue
        if ord(c) > 127 and (c in _JOINERS or unicodedata.category(c) not in _BAD_UNICODE):
            continue
        shown = repr(c) if not c.isprintable() or c.isspace() else f"“{c}”"
        return _fail(
            "invalid_local_part", f"The part before the @ contains {shown}, which mail cannot carry."
        )
    return None


def _domain_literal(literal: str) -> Parsed | str:
    """Validate ``[IPv4]`` or ``[IPv6:...]``; return the normalised literal or a failure."""
    inner = literal[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(inner[5:])
            return f"[IPv6:{address.compressed}]"
        address = ipaddress.IPv4Address(inner)
        return f"[{address}]"
    except ValueError:
        return _fail("invalid_domain_literal", "The address literal in brackets is not a valid IP address.")


@lru_cache(maxsize=65536)
def _check_domain(domain: str) -> Parsed | tuple[str, str]:
    """Return ``(unicode_domain, ascii_domain)`` or a failure."""
    if not domain:
        return _fail("missing_domain", "Something is missing after the @.")
    if domain.endswith(".") and not domain.endswith(".."):
        domain = domain[:-1]  # the root label: "example.com." is "example.com"
    if not domain or domain.startswith(".") or ".." in domain or domain.endswith("."):
        return _fail("invalid_domain", "The part after the @ has a misplaced dot.")
    try:
        ascii_domain = idna.encode(domain, uts46=True, std3_rules=True).decode("ascii")
        unicode_domain = idna.decode(ascii_domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        if domain.isascii():
            if len(domain) > 253:
                return _fail("domain_too_long", "The domain is longer than 253 characters.")
            for label in domain.lower().split("."):
                if len(label) > 63:
                    return _fail(
                        "domain_label_too_long", "A part of the domain is longer than 63 characters."
                    )
                if label.startswith("-") or label.endswith("-"):
                    return _fail("invalid_domain", "A part of the domain starts or ends with a hyphen.")
        return _fail("invalid_domain", "The part after the @ is not a valid domain name.")
    labels = ascii_domain.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return _fail("invalid_domain", "The part after the @ is not a valid domain name.")
    if len(ascii_domain) > 253:
        return _fail("domain_too_long", "The domain is longer than 253 characters.")
    if len(labels) < 2:
        return _fail("domain_without_dot", "The part after the @ needs a dot, like example.com.")
    if labels[-1].isdigit():
        return _fail("numeric_tld", "The domain cannot end in a number.")
    return unicode_domain, ascii_domain


def check_syntax(raw: str) -> Parsed:
    """Return the normalised address and its parts, or a reason code and a message in words."""
    simple = SIMPLE_ADDRESS.fullmatch(raw)
    if simple is None:
        return parse_general(raw)
    local, domain = simple.groups()
    if len(local) > 64:
        return _fail("local_part_too_long", "The part before the @ is longer than 64 characters.")
    if encoded_word_in(local):
        return _fail("encoded_word", ENCODED_WORD_MESSAGE)
    checked = _check_domain(domain)
    if isinstance(checked, Parsed):
        return checked
    unicode_domain, ascii_domain = checked
    if len(local) + 1 + len(ascii_domain) > 254:
        return _fail("address_too_long", "The address is longer than 254 characters.")
    return Parsed(f"{local}@{unicode_domain}", local=local, domain=unicode_domain, ascii_domain=ascii_domain)


def parse_general(raw: str) -> Parsed:
    """:func:`check_syntax` for any input (the fast path there must agree with this)."""
    text = raw.strip().strip(_INVISIBLE_EDGES).strip()
    if not text:
        return _fail("empty", "Please enter an email address.")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return _fail("invalid_character", "The address contains a broken character.")
    text = unicodedata.normalize("NFC", text)
    if "\r" in text or "\n" in text:
        return _fail("line_break", "The address contains a line break.")
    if any(unicodedata.category(c) == "Cc" for c in text):
        return _fail("control_character", "The address contains an invisible control character.")
    if "<" in text or ">" in text:
        return _fail("display_name", "Please enter only the address, without a name or angle brackets.")

    flags: set[str] = set()
    if text.startswith('"'):
        end = _quoted_end(text)
        if end is None:
            return _fail("invalid_quoted_local_part", "The quotation marks before the @ are not closed.")
        local, rest = text[:end], text[end:]
        if not rest.startswith("@"):
            return _fail("missing_at", "The address needs an @ after the quoted part.")
        domain = rest[1:]
        if len(local.encode("utf-8")) > 64:
            return _fail("local_part_too_long", "The part before the @ is longer than 64 characters.")
        local = _simplest_quoted(local)
        if local.startswith('"'):
            flags.add("quoted_local_part")
    else:
        if "," in text or ";" in text:
            return _fail("several_addresses", "Please enter a single email address.")
        if any(c.isspace() for c in text):
            if text.count("@") > 1:
                return _fail("several_addresses", "Please enter a single email address.")
            return _fail("whitespace", "The address contains a space.")
        if "@" not in text:
            return _fail("missing_at", "The address needs an @, like name@example.com.")
        if "(" in text or ")" in text:
            return _fail("comment", "Please remove the comment in brackets from the address.")
        if text.count("@") > 1:
            return _fail("several_at", "The address has more than one @.")
        local, domain = text.split("@")
        failure = _check_local(local)
        if failure:
            return failure
    if "(" in domain or ")" in domain or any(c.isspace() for c in domain):
        return _fail("invalid_domain", "The part after the @ is not a valid domain name.")
    if not local.isascii():
        flags.add("smtputf8")

    if domain.startswith("[") and domain.endswith("]"):
        literal = _domain_literal(domain)
        if isinstance(literal, Parsed):
            return literal
        flags.add("domain_literal")
        return _in_transit(Parsed(f"{local}@{literal}", local=local, domain=literal, flags=frozenset(flags)))
    if "[" in domain or "]" in domain:
        return _fail("invalid_domain_literal", "The brackets after the @ are not a valid address literal.")
    checked = _check_domain(domain)
    if isinstance(checked, Parsed):
        return checked
    unicode_domain, ascii_domain = checked
    if len(local.encode("utf-8")) + 1 + len(ascii_domain) > 254:
        return _fail("address_too_long", "The address is longer than 254 characters.")
    return _in_transit(
        Parsed(
            f"{local}@{unicode_domain}",
            local=local,
            domain=unicode_domain,
            ascii_domain=ascii_domain,
            flags=frozenset(flags),
        )
    )


def _in_transit(parsed: Parsed) -> Parsed:
    """``parsed``, unless the address would change on its way into an email."""
    problem = transit_problem(parsed.local, str(parsed.normalized))
    return _fail(*problem) if problem else parsed


def normalize(raw: str) -> str | None:
    """The normalised form of ``raw``, or None when it is not an address we accept."""
    return check_syntax(raw).normalized
