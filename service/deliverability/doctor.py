"""``optin doctor``: the whole sending set-up checked, in the order a mailbox provider judges it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.name

from service.deliverability.dkimkey import check_published_key
from service.deliverability.dmarc import check_dmarc
from service.deliverability.dns import Dns
from service.deliverability.eml import check_received
from service.deliverability.relay import check_reverse_dns, check_tls, relay_addresses
from service.deliverability.report import Check, Section, fail, ok, warn
from service.deliverability.spf import check_spf
from service.deliverability.web import check_unsubscribe_post, check_url
from service.mail.dkim import domain_of
from service.settings import Settings


@dataclass(frozen=True)
class DoctorOptions:
    relay_ips: tuple[str, ...] = ()  # where the relay sends from, when not its own address
    ca_file: str | None = None  # a private CA for the public URL's certificate
    eml: bytes | None = None  # a message the owner received, as saved from the mailbox
    eml_name: str = ""


def check_mx(lookup: Dns, domain: str) -> list[Check]:
    answer = lookup.lookup(domain, "MX")
    if answer.state == "unknown":
        return [warn(f"MX of {domain}: DNS could not answer ({answer.error})", "try again later")]
    if any(getattr(rdata, "exchange", None) == dns.name.root for rdata in answer.raw):
        return [
            fail(
                f"MX: {domain} publishes a null MX (it accepts no mail), so replies and bounces cannot"
                " arrive, and receivers distrust a sender that cannot receive",
                f"publish the MX of a mailbox for {domain}, or send from a domain that receives mail",
            )
        ]
    if not answer:
        return [
            warn(
                f"MX: {domain} has no MX record: replies and bounces depend on its A record",
                f"publish an MX record for {domain}",
            )
        ]
    hosts = sorted(answer.records, key=lambda r: int(r.split()[0]))
    return [ok(f"MX: {domain} receives mail ({', '.join(r.split()[1] for r in hosts)})")]


async def diagnose(settings: Settings, options: DoctorOptions) -> list[Section]:
    lookup = Dns(settings.verifier)
    sender = settings.smtp.sender
    domain = domain_of(sender)
    dkim = settings.smtp.dkim
    # DNS and pyspf are synchronous: they run on a thread while nothing else waits on the loop.
    sending = Section(f"The sending domain {domain} (From: {sender})")
    relay = Section(f"The relay {settings.smtp.host or '(none: the development mail catcher)'}")
    ips: list[str] = []
    if not settings.smtp.host:
        relay.checks.append(
            fail("relay: none is configured (development sends to the built-in catcher)", "set [smtp] host")
        )
    else:
        ips, notes = await asyncio.to_thread(relay_addresses, lookup, settings, options.relay_ips)
        relay.checks += notes
    sending.checks += await asyncio.to_thread(check_mx, lookup, domain)
    sending.checks += await asyncio.to_thread(check_spf, lookup, domain, settings.smtp.host, ips)
    sending.checks += await asyncio.to_thread(check_dmarc, lookup, domain, dkim.domain if dkim else None)
    sending.checks += await asyncio.to_thread(check_published_key, lookup, dkim, domain)
    if settings.smtp.host:
        relay.checks += await check_tls(settings)
        relay.checks += await asyncio.to_thread(check_reverse_dns, lookup, ips)
    web = Section(f"The public URL {settings.server.public_url}")
    web.checks += check_url(settings, domain)
    web.checks += await check_unsubscribe_post(settings, lookup, options.ca_file)
    sections = [sending, relay, web]
    if options.eml is not None:
        received = Section(f"The received message {options.eml_name}")
        received.checks += await asyncio.to_thread(check_received, options.eml, lookup)
        sections.append(received)
    return sections
