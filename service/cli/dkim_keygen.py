"""``optin dkim-keygen``: a new DKIM key pair, the settings to use it and the DNS record to publish."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from service.cli.common import checked_settings
from service.errors import ConfigError
from service.mail.dkim import ADVISED_RSA_BITS, MIN_RSA_BITS, domain_of, generate, record_name, zone_line
from service.numbers import whole_number


def _bits(text: str) -> int:
    bits = whole_number(text, 4097)
    if bits is None or bits < MIN_RSA_BITS:
        raise argparse.ArgumentTypeError(f"{text!r}: RSA keys for DKIM have from {MIN_RSA_BITS} to 4096 bits")
    return bits


def add_parser(sub: Any) -> None:
    command = sub.add_parser(
        "dkim-keygen",
        help="make a DKIM key pair and print the DNS record to publish",
        description="Make a new DKIM key. Print the private key (or write it to --out, readable by"
        " you only), the [smtp.dkim] settings that use it, and the TXT record to publish in DNS."
        " Publish the record first, check it with `optin doctor`, then switch the settings.",
    )
    command.add_argument("--selector", required=True, help='the selector, e.g. "s1" or "2026a"')
    command.add_argument("--domain", help="the signing domain (default: the domain of smtp.sender)")
    command.add_argument(
        "--bits", type=_bits, default=ADVISED_RSA_BITS, help=f"RSA key size (default {ADVISED_RSA_BITS})"
    )
    command.add_argument(
        "--type",
        choices=["rsa", "ed25519"],
        default="rsa",
        help="rsa (default: every receiver verifies it) or ed25519 (RFC 8463; Gmail and Outlook"
        " do not verify it yet, so use it only beside an RSA key)",
    )
    command.add_argument(
        "--out", metavar="FILE", help="write the private key to FILE (mode 600) instead of stdout"
    )
    command.set_defaults(func=cmd_dkim_keygen)


def _domain(args: argparse.Namespace) -> str:
    if args.domain:
        return str(args.domain).strip().rstrip(".").lower()
    try:
        settings = checked_settings(args)
    except ConfigError:
        settings = None
    domain = domain_of(settings.smtp.sender) if settings else ""
    if not domain or domain == "localhost":
        raise ConfigError("say which domain signs: --domain example.com (smtp.sender names none)")
    return domain


def _write_private(path: str, pem: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(pem)


def cmd_dkim_keygen(args: argparse.Namespace) -> int:
    domain = _domain(args)
    pem, key = generate(args.type, args.bits)
    if args.out:
        try:
            _write_private(args.out, pem)
        except FileExistsError:
            print(f"{args.out} exists already: optin does not overwrite a key", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"The private key is in {args.out} (readable by you only). Keep it secret.")
        key_line = f'private_key_file = "{os.path.abspath(args.out)}"'
    else:
        print("The private key (keep it secret; store it as a secret file or in the environment):\n")
        print(pem)
        key_line = 'private_key = "env:OPTIN_DKIM_KEY"   # or private_key_file = "/path/to/key.pem"'
    size = f"{key.bits}-bit RSA" if key.algorithm == "rsa" else "Ed25519"
    value = key.dns_value()
    print(f"1. Publish this TXT record ({size} key):\n")
    print(f"   name:  {record_name(args.selector, domain)}")
    print(f"   value: {value}\n")
    print("   as a zone-file line (values over 255 characters are split into several strings):")
    print(f"   {zone_line(args.selector, domain, value)}\n")
    print("2. Once it is visible (`optin doctor` checks it), sign with it:\n")
    print("   [smtp.dkim]")
    print(f'   domain = "{domain}"')
    print(f'   selector = "{args.selector}"')
    print(f"   {key_line}")
    return 0
