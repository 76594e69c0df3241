"""The relay: does it speak TLS (and take our login) as configured, and does its address have
forward-confirmed reverse DNS (a PTR naming a host that resolves back to the same address)?"""

from __future__ import annotations

from service.deliverability.dns import Dns
from service.deliverability.report import Check, fail, ok, warn
from service.errors import MailError
from service.settings import Settings
from service.verification.dnscheck import is_routable


async def check_tls(settings: Settings) -> list[Check]:
    """What ``optin smtp-test`` tries first: the configured routes, TLS, then AUTH."""
    from service.mail.smtp import SmtpMailer, routes_for

    smtp = settings.smtp
    mailer = SmtpMailer(smtp)
    failures = []
    for route in routes_for(smtp):
        try:
            await mailer.probe(route)
        except MailError as exc:
            failures.append(f"{route}: {exc.detail}")
            continue
        secured = "no TLS (a loopback relay)" if route.mode == "none" else "TLS established"
        login = f", logged in as {smtp.username}" if smtp.username else ""
        return [ok(f"relay: {smtp.host} {route}: {secured}{login}")]
    return [
        fail(
            f"relay: {smtp.host} does not work as configured: {'; '.join(failures)}",
            "`optin smtp-test` tries the other ports and says what to set",
        )
    ]


def check_reverse_dns(lookup: Dns, addresses: list[str]) -> list[Check]:
    checks = []
    for address in addresses:
        answer = lookup.ptr(address)
        if answer.state == "unknown":
            checks.append(warn(f"reverse DNS of {address}: DNS could not answer ({answer.error})"))
            continue
        if not answer:
            checks.append(
                fail(
                    f"reverse DNS: {address} has no PTR record; Gmail and Yahoo refuse or junk mail from such addresses",
                    f"ask whoever runs {address} (your relay or host) for a PTR naming a host that resolves back to it",
                )
            )
            continue
        confirmed = [name for name in answer.records if address in lookup.addresses(name)[0]]
        if confirmed:
            checks.append(ok(f"reverse DNS: {address} is {confirmed[0]}, which resolves back to it"))
        else:
            names = ", ".join(answer.records)
            checks.append(
                fail(
                    f"reverse DNS: {address} says it is {names}, but that name does not resolve back to {address}",
                    f"add an A/AAAA record {answer.records[0]} → {address}, or change the PTR",
                )
            )
    return checks


def relay_addresses(lookup: Dns, settings: Settings, given: tuple[str, ...]) -> tuple[list[str], list[Check]]:
    """The addresses whose SPF and reverse DNS matter: those given, else the relay host's."""
    if given:
        return list(given), []
    host = settings.smtp.host
    found, error = lookup.addresses(host)
    notes = []
    if not found:
        notes.append(
            warn(
                f"relay: {host} has no address in DNS{f' ({error})' if error else ''}",
                "give the addresses your relay sends from with --relay-ip",
            )
        )
    private = [a for a in found if not is_routable(a)]
    if private:
        notes.append(
            warn(
                f"relay: {host} is at {', '.join(private)}, not an Internet address: mailbox providers"
                " see the address it sends out from",
                "give that address with --relay-ip to check SPF and reverse DNS for it",
            )
        )
    return found, notes
