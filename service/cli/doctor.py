"""``optin doctor``: will our mail reach the inbox? Every check in words, with the fix."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from typing import Any

from service.cli.common import checked_settings


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def add_parser(sub: Any) -> None:
    command = sub.add_parser(
        "doctor",
        help="check DNS, the relay and links for what sends mail to spam",
        description="Check the sending set-up as mailbox providers judge it: the From domain's MX,"
        " SPF (one record, at most 10 lookups, no +all, the relay's addresses covered), DMARC (one"
        " record, policy, reports, alignment) and DKIM key (published, long enough, ours); the"
        " relay's TLS and reverse DNS; the public URL (HTTPS, the sender's domain, one-click"
        " unsubscribe answering POST). With --eml, also a message you received. DNS is asked of"
        " [dns] nameservers. Each line is ✓ (fine), ⚠ (worth fixing) or ✗ (fix it), with what to"
        " do. Exit code 0 without ✗, 1 with.",
    )
    command.add_argument(
        "--eml",
        metavar="FILE",
        help='a message you received from optin, saved with its headers ("Show original",'
        ' "Download message"): its DKIM, Return-Path and unsubscribe headers are checked',
    )
    command.add_argument(
        "--relay-ip",
        metavar="ADDRESS",
        action="append",
        type=_ip,
        default=[],
        help="an address your relay sends from, when it is not the address of smtp.host (repeatable)",
    )
    command.add_argument(
        "--ca-file", metavar="FILE", help="also trust this CA for the public URL (a private CA)"
    )
    command.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from service.deliverability.doctor import DoctorOptions, diagnose
    from service.deliverability.report import exit_code, render, summary

    settings = checked_settings(args)
    eml = None
    if args.eml:
        try:
            with open(args.eml, "rb") as file:
                eml = file.read()
        except OSError as exc:
            print(f"cannot read {args.eml}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    options = DoctorOptions(tuple(args.relay_ip), args.ca_file, eml, args.eml or "")
    sections = asyncio.run(diagnose(settings, options))
    print(render(sections), end="")
    passed, warned, failed = summary(sections)
    verdict = (
        "fix the ✗ lines first"
        if failed
        else "nothing blocks delivery" + (", but see the ⚠ lines" if warned else "")
    )
    print(f"{passed} fine, {warned} worth fixing, {failed} to fix: {verdict}.")
    return exit_code(sections)
