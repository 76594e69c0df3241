"""The DKIM key published for our selector: there, long enough, and the one we sign with."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from service.deliverability.dmarc import tags
from service.deliverability.dns import Dns
from service.deliverability.report import Check, fail, ok, warn
from service.mail.dkim import ADVISED_RSA_BITS, MIN_RSA_BITS, DkimKey, load_key, record_name
from service.settings import DkimSettings


def _rsa_public(data: bytes) -> rsa.RSAPublicKey | None:
    """An RSA key given as SubjectPublicKeyInfo (the usual form) or bare RSAPublicKey (PKCS#1)."""
    try:
        key = serialization.load_der_public_key(data)
        return key if isinstance(key, rsa.RSAPublicKey) else None
    except ValueError:
        pass
    try:
        pem = (
            b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(data) + b"-----END RSA PUBLIC KEY-----\n"
        )
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


def _matches(published: bytes, ours: DkimKey) -> bool:
    mine = base64.b64decode(ours.public_b64)
    if ours.algorithm == "ed25519":
        return published == mine
    theirs, ours_rsa = _rsa_public(published), _rsa_public(mine)
    return (
        theirs is not None and ours_rsa is not None and theirs.public_numbers() == ours_rsa.public_numbers()
    )


def check_published_key(lookup: Dns, dkim: DkimSettings | None, from_domain: str) -> list[Check]:
    if dkim is None:
        return [
            warn(
                "DKIM: optin does not sign its mail ([smtp.dkim] is not set). Gmail and Yahoo want"
                " DKIM, and RFC 8058 one-click unsubscribe needs a signature over its headers",
                f"run `optin dkim-keygen --selector s1 --domain {from_domain}`, publish the record,"
                " then set [smtp.dkim] (unless your relay signs with your domain: check with --eml)",
            )
        ]
    name = record_name(dkim.selector, dkim.domain)
    ours = load_key(dkim.private_key)
    answer = lookup.txt(name)
    if answer.state == "unknown":
        return [warn(f"DKIM: DNS could not answer for {name} ({answer.error})", "try again later")]
    keys = [r for r in answer.records if "p=" in r]
    publish = f'publish a TXT record at {name}: "{ours.dns_value()}"'
    if not keys:
        return [fail(f"DKIM: no key is published at {name}, so every signature fails", publish)]
    if len(keys) > 1:
        return [fail(f"DKIM: {name} holds {len(keys)} key records; receivers may pick either", "keep one")]
    record = tags(keys[0])
    public = "".join(record.get("p", "").split())
    if not public:
        return [fail(f"DKIM: the key at {name} is revoked (empty p=)", publish)]
    kind = record.get("k", "rsa").lower()
    try:
        data = base64.b64decode(public, validate=True)
    except (binascii.Error, ValueError):
        return [fail(f"DKIM: the key at {name} is not valid base64", publish)]
    checks = [ok(f"DKIM: a {kind} key is published at {name}")]
    if kind == "rsa":
        key = _rsa_public(data)
        if key is None:
            return [fail(f"DKIM: the record at {name} holds no RSA public key", publish)]
        bits = key.key_size
        if bits < MIN_RSA_BITS:
            checks.append(
                fail(
                    f"DKIM: the published key has {bits} bits; receivers refuse keys under {MIN_RSA_BITS}",
                    "make a 2048-bit key with `optin dkim-keygen`",
                )
            )
        elif bits < ADVISED_RSA_BITS:
            checks.append(
                warn(
                    f"DKIM: the published key has {bits} bits; {ADVISED_RSA_BITS} is advised",
                    "rotate to a 2048-bit key (`optin dkim-keygen --selector NEW`)",
                )
            )
        else:
            checks.append(ok(f"DKIM: the key has {bits} bits"))
    elif kind == "ed25519":
        checks.append(
            warn(
                "DKIM: an Ed25519 key: Gmail and Outlook do not verify these yet",
                "sign with an RSA key as well, or instead",
            )
        )
    if kind != ours.algorithm or not _matches(data, ours):
        checks.append(
            fail(
                "DKIM: the published key is not the public half of our private key, so our signatures fail",
                publish + " (or configure the private key that belongs to it)",
            )
        )
    else:
        checks.append(ok("DKIM: it matches the private key optin signs with"))
    return checks
