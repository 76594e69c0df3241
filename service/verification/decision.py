"""From findings to the form's decision and a sentence for the person: pure functions."""

from __future__ import annotations

from service.verification.verdict import Decision, Policy, Status

_SEVERITY: dict[Decision, int] = {"accept": 0, "warn": 1, "reject": 2}

MESSAGES: dict[str, str] = {
    "domain_not_found": "The domain {domain} does not exist.",
    "null_mx": "{domain} does not accept email.",
    "no_mail_server": "{domain} has no mail server.",
    "mx_host_unresolvable": "The mail server of {domain} cannot be found.",
    "mx_host_private": "The mail server of {domain} is not reachable from the Internet.",
    "a_fallback_private": "{domain} has no mail server reachable from the Internet.",
    "quoted_local_part": "Addresses with quotation marks are not accepted here.",
    "domain_literal": "Please use an address with a domain name, not an IP address.",
    "smtputf8_not_allowed": "Please use an address made of Latin letters, digits and dots.",
    "mailbox_not_found": "The mail server of {domain} says this mailbox does not exist.",
    "disposable": "Please use a permanent address rather than a disposable one.",
    "role_hard": "This address does not reach a person; please use your own address.",
    "role_soft": "This looks like a shared mailbox; a personal address works better.",
    "catch_all": "{domain} accepts mail for any address, so this one cannot be confirmed.",
}


def decide(
    policy: Policy, status: Status, flags: frozenset[str], reasons: tuple[str, ...], typo: bool
) -> Decision:
    """The form's decision for these findings: the most severe of what each finding asks for."""
    wanted: list[Decision] = ["accept"]
    if status == "undeliverable":
        wanted.append("reject" if policy.reject_undeliverable else "warn")
    if "disposable" in flags:
        wanted.append("reject" if policy.reject_disposable else "warn")
    if "role_hard" in reasons and policy.reject_role_hard:
        wanted.append("reject")
    elif "role" in flags and policy.warn_role:
        wanted.append("warn")
    if status == "unknown":
        wanted.append("reject" if policy.reject_unknown else "warn" if policy.warn_unknown else "accept")
    if status == "risky" and policy.warn_risky:
        wanted.append("warn")
    if "free" in flags and policy.warn_free:
        wanted.append("warn")
    if typo:
        wanted.append("warn")
    return max(wanted, key=_SEVERITY.__getitem__)


def message(status: Status, reasons: tuple[str, ...], domain: str, suggestion: str | None) -> str:
    if suggestion:
        return f"Did you mean {suggestion}?"
    for reason in reasons:
        if reason in MESSAGES:
            return MESSAGES[reason].format(domain=domain)
    if status == "unknown":
        return f"We could not check {domain} right now; the address may still be fine."
    if status == "undeliverable":
        return f"{domain} cannot receive email."
    return "This address looks good."
