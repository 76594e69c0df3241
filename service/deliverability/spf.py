"""SPF (RFC 7208) of the sending domain: one record, within 10 lookups, no +all, the relay covered.

The evaluation is pyspf's (the reference Python implementation, packaged by Debian as
python3-spf): its mechanisms, macros, lookup and void-lookup limits. Only its DNS is ours: pyspf
asks dnspython's process-wide default resolver, which cannot be pointed at ``[dns] nameservers``,
so :class:`_Query` answers pyspf's questions through :class:`~service.deliverability.dns.Dns`
(same answer shapes, same void-lookup rule) — the doctor sees what the configured resolvers see.
"""

from __future__ import annotations

import re
from typing import Any

import spf

from service.deliverability.dns import Dns
from service.deliverability.report import Check, fail, ok, warn

NOWHERE_IP = "192.0.2.254"  # TEST-NET-1: matches no real record, so evaluation visits every term
_SPF = re.compile(r"^v=spf1(\s|$)", re.IGNORECASE)
# Relays whose own documentation names one SPF include for their sending addresses.
RELAY_INCLUDES = {
    "mailjet.com": "spf.mailjet.com",
    "brevo.com": "spf.brevo.com",
    "sendinblue.com": "spf.brevo.com",
    "sendgrid.net": "sendgrid.net",
    "mailgun.org": "mailgun.org",
    "amazonaws.com": "amazonses.com",
    "gmail.com": "_spf.google.com",
    "google.com": "_spf.google.com",
    "office365.com": "spf.protection.outlook.com",
    "outlook.com": "spf.protection.outlook.com",
    "postmarkapp.com": "spf.mtasv.net",
    "sparkpostmail.com": "sparkpostmail.com",
}


class _Query(spf.query):  # type: ignore[misc]
    """pyspf's evaluation, asking our resolver."""

    def __init__(self, lookup: Dns, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lookup = lookup

    def dns(self, name: Any, qtype: str, cnames: Any = None, ignore_void: bool = False) -> list[Any]:
        name = str(name).rstrip(".").lower()
        if not name or any(not 0 < len(label) < 64 for label in name.split(".")):
            return []  # not a DNS name: no answer, as pyspf does
        key = (name, qtype)
        if key not in self.cache:
            found = self._lookup.lookup(name, qtype)
            if found.state == "unknown":
                raise spf.TempError(f"DNS {found.error} ({name} {qtype})")
            self.cache[key] = [_pyspf_value(qtype, rdata) for rdata in found.raw]
        result: list[Any] = self.cache[key]
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result


def _pyspf_value(qtype: str, rdata: Any) -> Any:
    """An answer in the shape pyspf's own dnspython lookup gives it."""
    if qtype in ("A", "AAAA"):
        return rdata.address
    if qtype == "MX":
        return (rdata.preference, rdata.exchange)
    if qtype == "PTR":
        return rdata.target.to_text(True)
    return rdata.strings  # TXT: the strings of one record, joined by pyspf


def evaluate(lookup: Dns, ip: str, domain: str) -> tuple[str, str, int]:
    """pyspf's result for mail from ``postmaster@domain`` sent from ``ip``: (result, why, lookups)."""
    query = _Query(lookup, i=ip, s=f"postmaster@{domain}", h=domain, timeout=lookup.resolver.lifetime)
    result, _code, explanation = query.check()
    why = str(explanation).removeprefix("SPF Permanent Error: ").removeprefix("SPF Temporary Error: ")
    return str(result), why, int(query.lookups)


def records(lookup: Dns, domain: str) -> tuple[list[str], str]:
    """The ``v=spf1`` TXT records of ``domain``; and an error when DNS could not say."""
    answer = lookup.txt(domain)
    if answer.state == "unknown":
        return [], answer.error
    return [r for r in answer.records if _SPF.match(r.strip())], ""


def includes(lookup: Dns, domain: str, depth: int = 0) -> set[str]:
    """Every domain ``domain``'s SPF record includes or redirects to, followed down."""
    if depth > 10:
        return set()
    found, _ = records(lookup, domain)
    names: set[str] = set()
    for term in found[0].split()[1:] if len(found) == 1 else []:
        match = re.fullmatch(r"[+?~-]?include:(\S+)|redirect=(\S+)", term, re.IGNORECASE)
        if match and "%" not in term:
            target = (match.group(1) or match.group(2)).lower().rstrip(".")
            if target not in names:
                names |= {target} | includes(lookup, target, depth + 1)
    return names


def _relay_include(relay_host: str) -> str | None:
    host = relay_host.lower().rstrip(".")
    return next(
        (inc for suffix, inc in RELAY_INCLUDES.items() if host == suffix or host.endswith("." + suffix)), None
    )


def _all_term(record: str) -> str | None:
    for term in record.split()[1:]:
        if re.fullmatch(r"[+?~-]?all", term, re.IGNORECASE):
            return term.lower()
    return None


def check_spf(lookup: Dns, domain: str, relay_host: str, relay_ips: list[str]) -> list[Check]:
    found, error = records(lookup, domain)
    include = _relay_include(relay_host)
    example = f"v=spf1 {'include:' + include if include else 'ip4:YOUR.RELAY.ADDRESS'} -all"
    if error:
        return [
            warn(
                f"SPF of {domain}: DNS could not answer ({error})",
                "try again; if it lasts, check your DNS host",
            )
        ]
    if not found:
        return [
            fail(f"SPF: {domain} publishes no SPF record", f'publish a TXT record at {domain}: "{example}"')
        ]
    if len(found) > 1:
        return [
            fail(
                f"SPF: {domain} publishes {len(found)} SPF records; receivers treat that as an error (permerror)",
                "merge them into one TXT record starting with v=spf1",
            )
        ]
    record = found[0]
    checks = [ok(f'SPF: one record at {domain}: "{record}"')]
    term = _all_term(record)
    if term in ("+all", "all"):
        checks.append(
            fail(
                f'SPF: "{term}" lets every server on the Internet send as {domain}',
                'end the record with "-all" (or "~all" while you test)',
            )
        )
    elif term == "?all":
        checks.append(
            warn('SPF: "?all" says nothing about other servers', 'end the record with "-all" or "~all"')
        )
    elif term is None and "redirect=" not in record.lower():
        checks.append(
            warn("SPF: the record has no all term, so other servers are neutral", 'end it with "-all"')
        )
    result, why, count = evaluate(lookup, NOWHERE_IP, domain)
    if result == "permerror":
        checks.append(
            fail(
                f"SPF: the record cannot be evaluated: {why}",
                "receivers then ignore SPF; at most 10 DNS lookups (include, a, mx, ptr, exists,"
                " redirect) and 2 empty answers are allowed: drop includes you no longer use",
            )
        )
        return checks
    if result == "temperror":
        checks.append(warn(f"SPF: DNS failed while evaluating the record ({why})", "try again later"))
        return checks
    checks.append(ok(f"SPF: {count} DNS lookup(s) to evaluate it (10 at most)"))
    return checks + _coverage(lookup, domain, relay_host, relay_ips, include, example)


def _coverage(
    lookup: Dns, domain: str, relay_host: str, relay_ips: list[str], include: str | None, example: str
) -> list[Check]:
    if include and include in includes(lookup, domain):
        return [ok(f"SPF: covers the relay {relay_host} (include:{include})")]
    if not relay_ips:
        return [warn(f"SPF: cannot tell whether it covers the relay: {relay_host} has no address in DNS")]
    checks = []
    for ip in relay_ips:
        result, why, _ = evaluate(lookup, ip, domain)
        if result == "pass":
            checks.append(ok(f"SPF: covers the relay's address {ip}"))
        else:
            fix = (
                f"add include:{include} (what {relay_host} documents)"
                if include
                else f"add ip4:{ip}"
                if "." in ip
                else f"add ip6:{ip}"
            )
            checks.append(
                fail(
                    f"SPF: mail from the relay's address {ip} gets {result} ({why})",
                    f"{fix} to the record, before its all term; if your relay sends from other"
                    " addresses than it receives on, give them with --relay-ip",
                )
            )
    return checks
