"""``optin doctor --eml FILE``: how a message the owner received really arrived.

Every DKIM signature is verified with dkimpy against the keys in DNS (through the configured
resolvers); DMARC passes only with a valid signature whose ``d=`` is aligned with the From
domain, or an SPF-authenticated Return-Path aligned with it. One-click unsubscribe (RFC 8058)
only counts when the signature covers ``List-Unsubscribe`` and ``List-Unsubscribe-Post``.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from service.deliverability.dmarc import aligned
from service.deliverability.dns import Dns
from service.deliverability.report import Check, fail, ok, warn

UNSUBSCRIBE_HEADERS = ("list-unsubscribe", "list-unsubscribe-post")


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower().rstrip(">")


def _dnsfunc(lookup: Dns) -> Any:
    def txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        answer = lookup.txt(text)
        if answer.state == "unknown":
            import dkim

            raise dkim.DnsTimeoutError(answer.error)
        return answer.records[0].encode() if answer.records else None

    return txt


def _signatures(raw: bytes) -> list[dict[bytes, bytes]]:
    import dkim
    from dkim.util import parse_tag_value

    found = []
    for name, value in dkim.DKIM(raw).headers:
        if name.lower() == b"dkim-signature":
            try:
                found.append(parse_tag_value(value))
            except dkim.util.InvalidTagValueList:
                found.append({})
    return found


def _verify(raw: bytes, index: int, lookup: Dns) -> tuple[bool, str]:
    import dkim

    verifier = dkim.DKIM(raw, minkey=1024)
    try:
        valid = bool(verifier.verify(idx=index, dnsfunc=_dnsfunc(lookup)))
    except dkim.DKIMException as exc:
        return False, str(exc)
    return valid, "" if valid else "the signature does not match the message or the key in DNS"


def check_received(raw: bytes, lookup: Dns) -> list[Check]:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    from_domain = _domain(str(parsed.get("From", "")))
    if not from_domain:
        return [fail("the message has no From address: is this a whole message (.eml), headers included?")]
    checks: list[Check] = []
    present = {name.lower() for name in parsed.keys()}
    wanted = [h for h in UNSUBSCRIBE_HEADERS if h in present]
    good_dkim = False
    signatures = _signatures(raw)
    for index, tags in enumerate(signatures):
        d = tags.get(b"d", b"?").decode(errors="replace").lower()
        s = tags.get(b"s", b"?").decode(errors="replace")
        valid, why = _verify(raw, index, lookup)
        if not valid:
            checks.append(
                fail(
                    f"DKIM d={d} s={s}: invalid — {why}",
                    "check the key published for that selector (`optin doctor`)",
                )
            )
            continue
        is_aligned = aligned(d, from_domain, "r")
        if is_aligned:
            good_dkim = True
            checks.append(ok(f"DKIM d={d} s={s}: valid, and aligned with From ({from_domain})"))
        else:
            checks.append(
                warn(
                    f"DKIM d={d} s={s}: valid, but {d} is not aligned with From ({from_domain}), so it does not count for DMARC"
                )
            )
        signed = {h.strip().decode(errors="replace").lower() for h in tags.get(b"h", b"").split(b":")}
        missing = [h for h in wanted if h not in signed]
        if is_aligned and wanted:
            if missing:
                checks.append(
                    fail(
                        f"DKIM d={d}: h= does not cover {', '.join(missing)}: Gmail and Yahoo ignore"
                        " one-click unsubscribe then",
                        "sign those headers (optin's own signature does)",
                    )
                )
            else:
                checks.append(ok(f"DKIM d={d}: h= covers {', '.join(wanted)} (one-click unsubscribe counts)"))
    if not signatures:
        checks.append(
            fail("DKIM: the message carries no DKIM signature", "configure [smtp.dkim] (`optin dkim-keygen`)")
        )
    elif not good_dkim:
        checks.append(fail("DKIM: no valid signature aligned with From, so DMARC rests on SPF alone"))
    checks += _return_path(parsed, from_domain, good_dkim)
    checks += _receiver_verdict(parsed)
    return checks


def _return_path(parsed: EmailMessage, from_domain: str, good_dkim: bool) -> list[Check]:
    value = str(parsed.get("Return-Path", "")).strip()
    if not value:
        return [
            warn(
                "Return-Path: missing; a receiving server adds it, so the file may lack the headers",
                'save the message with all its headers ("Show original", "Download message")',
            )
        ]
    domain = _domain(value) or "(empty: a bounce)"
    if aligned(domain, from_domain, "r"):
        return [ok(f"Return-Path: {domain}, aligned with From ({from_domain}), so SPF counts for DMARC")]
    text = f"Return-Path: {domain} is not aligned with From ({from_domain}), so SPF does not count for DMARC"
    fix = "set a custom bounce (Return-Path) domain under yours at your relay"
    return [warn(text, fix) if good_dkim else fail(text, fix)]


def _receiver_verdict(parsed: EmailMessage) -> list[Check]:
    """What the receiving server itself concluded (Authentication-Results, RFC 8601), if it says."""
    results = str(parsed.get("Authentication-Results", ""))
    verdicts = dict(re.findall(r"\b(dkim|spf|dmarc)=(\w+)", results, re.IGNORECASE))
    if not verdicts:
        return []
    said = ", ".join(f"{k.lower()}={v.lower()}" for k, v in verdicts.items())
    dmarc = next((v.lower() for k, v in verdicts.items() if k.lower() == "dmarc"), None)
    if dmarc == "pass" or (dmarc is None and "fail" not in said):
        return [ok(f"the receiving server said: {said}")]
    return [fail(f"the receiving server said: {said}", "the lines above say why")]
