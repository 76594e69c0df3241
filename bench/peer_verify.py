"""The peer of ``optin verify FILE`` in bench/verify.py: python-email-validator over a file.

    python bench/peer_verify.py FILE --nameserver 127.0.0.1:PORT > verdicts.jsonl

The same work as ``optin verify``: read one address a line (streamed), check it with
``validate_email(check_deliverability=True)`` through email-validator's own ``caching_resolver``,
write one JSON line per address to stdout and a summary to stderr. It is synchronous: that is
how email-validator checks deliverability (its async variant needs dnspython's async resolver
and gives up the cache).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import dns.resolver
import email_validator


def resolver(nameserver: str) -> dns.resolver.Resolver:
    host, _, port = nameserver.rpartition(":")
    base = dns.resolver.Resolver(configure=False)
    base.nameservers = [host]
    base.port = int(port)
    return email_validator.caching_resolver(timeout=3, dns_resolver=base)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--nameserver", required=True, metavar="HOST:PORT")
    args = parser.parse_args()
    dns_resolver = resolver(args.nameserver)
    started, accepted, rejected = time.monotonic(), 0, 0
    out = sys.stdout
    with open(args.file, encoding="utf-8") as lines:
        for line in lines:
            address = line.rstrip("\r\n")
            try:
                found = email_validator.validate_email(
                    address, check_deliverability=True, dns_resolver=dns_resolver
                )
            except email_validator.EmailNotValidError as exc:
                rejected += 1
                out.write(json.dumps({"input": address, "valid": False, "error": str(exc)}) + "\n")
            else:
                accepted += 1
                out.write(
                    json.dumps({"input": address, "valid": True, "normalized": found.normalized}) + "\n"
                )
    elapsed = time.monotonic() - started
    print(f"checked {accepted + rejected:,} in {elapsed:.1f} s: {accepted:,} valid", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
