"""DMARC (RFC 7489) of the sending domain: one record, a policy, reports, and alignment.

A From domain without its own record is governed by its organisational domain's
(``news.example.com`` by ``_dmarc.example.com``), as receivers do.
"""

from __future__ import annotations

import re

from service.deliverability.dns import Dns
from service.deliverability.report import Check, fail, ok, warn
from service.verification.lists import registrable_domain

_DMARC = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.IGNORECASE)


def tags(record: str) -> dict[str, str]:
    """``v=DMARC1; p=reject; rua=…`` → {"v": "DMARC1", "p": "reject", "rua": "…"} (names lower-cased)."""
    found = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            found[name.strip().lower()] = value.strip()
    return found


def aligned(one: str, other: str, mode: str) -> bool:
    """Whether two domains are aligned: equal (strict, ``s``) or sharing a registrable domain."""
    one, other = one.lower().rstrip("."), other.lower().rstrip(".")
    if mode == "s":
        return one == other
    return (registrable_domain(one) or one) == (registrable_domain(other) or other)


def find_record(lookup: Dns, domain: str) -> tuple[str, list[str], str]:
    """(where the record was looked for, the DMARC records there, a DNS error if any)."""
    for candidate in dict.fromkeys([domain, registrable_domain(domain) or domain]):
        answer = lookup.txt(f"_dmarc.{candidate}")
        if answer.state == "unknown":
            return candidate, [], answer.error
        found = [r for r in answer.records if _DMARC.match(r.strip())]
        if found:
            return candidate, found, ""
    return domain, [], ""


def check_dmarc(lookup: Dns, domain: str, dkim_domain: str | None) -> list[Check]:
    at, found, error = find_record(lookup, domain)
    suggested = f'"v=DMARC1; p=none; rua=mailto:dmarc-reports@{registrable_domain(domain) or domain}"'
    if error:
        return [warn(f"DMARC: DNS could not answer for _dmarc.{at} ({error})", "try again later")]
    if not found:
        return [
            fail(
                f"DMARC: no record at _dmarc.{domain}; Gmail, Yahoo and Outlook require one from bulk senders",
                f"publish a TXT record at _dmarc.{domain}: {suggested}, then move to p=quarantine"
                " once the reports show only your own mail",
            )
        ]
    if len(found) > 1:
        return [
            fail(
                f"DMARC: _dmarc.{at} has {len(found)} DMARC records; receivers then ignore DMARC",
                "keep one TXT record starting with v=DMARC1",
            )
        ]
    record = tags(found[0])
    inherited = f" (inherited from {at})" if at != domain else ""
    checks = [ok(f'DMARC: one record at _dmarc.{at}{inherited}: "{found[0]}"')]
    policy = record.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        checks.append(
            fail(
                f"DMARC: the policy p={policy or '(missing)'} is not none, quarantine or reject;"
                " receivers ignore the record",
                "set p=none to start, quarantine or reject once reports are clean",
            )
        )
    elif policy == "none":
        checks.append(
            warn(
                "DMARC: policy p=none only monitors: mail that fails is still delivered, and spoofers can use your domain",
                "move to p=quarantine, then p=reject, once the reports show only your own mail",
            )
        )
    else:
        checks.append(ok(f"DMARC: policy p={policy}"))
    if record.get("rua"):
        checks.append(ok(f"DMARC: aggregate reports go to {record['rua']}"))
    else:
        checks.append(
            warn(
                "DMARC: no rua=, so nobody receives the reports that show who sends as your domain",
                f"add rua=mailto:dmarc-reports@{registrable_domain(domain) or domain}",
            )
        )
    adkim, aspf = record.get("adkim", "r").lower(), record.get("aspf", "r").lower()
    modes = {"r": "relaxed", "s": "strict"}
    checks.append(ok(f"DMARC: alignment DKIM {modes.get(adkim, adkim)}, SPF {modes.get(aspf, aspf)}"))
    if dkim_domain and not aligned(dkim_domain, domain, adkim):
        checks.append(
            fail(
                f"DMARC: our DKIM signature (d={dkim_domain}) is not aligned with the From domain {domain}"
                f" ({modes.get(adkim, adkim)} alignment), so it does not count for DMARC",
                f"sign with smtp.dkim.domain = {domain!r}" + (" or set adkim=r" if adkim == "s" else ""),
            )
        )
    return checks
