"""DKIM (RFC 6376): our private key checked, the exact bytes we send signed, new keys and records made.

Signing is relaxed/relaxed (survives the header re-folding and trailing-space changes relays make)
and covers the headers a receiver judges us by: From (twice, so nobody can add a second From
without breaking the signature), To, Subject, Date, Message-ID, the MIME headers, and the
RFC 8058 one-click headers and List-Id when the message has them (Gmail and Yahoo only honour
one-click unsubscribe when ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` are signed).

RSA keys (1024 bits at least, as RFC 8301 requires of verifiers; 2048 advised) and Ed25519 keys
(RFC 8463) are accepted, as PEM (what ``openssl genpkey`` and ``optin dkim-keygen`` write) or, for
Ed25519, the base64 seed dkimpy's own ``dknewkey`` writes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

Algorithm = Literal["rsa", "ed25519"]
MIN_RSA_BITS = 1024  # RFC 8301: verifiers must refuse shorter keys
ADVISED_RSA_BITS = 2048
# Signed when present, in this order; "from" comes first and again at the end (over-signing).
SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "auto-submitted",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
)
TXT_STRING_MAX = 255  # one DNS character-string; longer records are several strings


@dataclass(frozen=True)
class DkimKey:
    """A private key in the forms DKIM needs: what dkimpy signs with, and the ``p=`` to publish."""

    algorithm: Algorithm
    bits: int
    public_b64: str  # the p= tag: SubjectPublicKeyInfo (RSA) or the raw 32-byte key (Ed25519)
    signing_key: bytes  # PKCS#1 PEM (RSA) or the base64 seed (Ed25519), as dkimpy takes them

    @property
    def signature_algorithm(self) -> bytes:
        return b"rsa-sha256" if self.algorithm == "rsa" else b"ed25519-sha256"

    def dns_value(self) -> str:
        """The TXT record's value, as one text (DNS hosting forms split it themselves)."""
        return f"v=DKIM1; k={self.algorithm}; p={self.public_b64}"


def _from_private(private: object) -> DkimKey:
    if isinstance(private, rsa.RSAPrivateKey):
        bits = private.key_size
        if bits < MIN_RSA_BITS:
            raise ValueError(
                f"is a {bits}-bit RSA key: receivers refuse DKIM keys under {MIN_RSA_BITS} bits"
                f" (RFC 8301); make a {ADVISED_RSA_BITS}-bit one with `optin dkim-keygen`"
            )
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pkcs1 = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return DkimKey("rsa", bits, base64.b64encode(spki).decode(), pkcs1)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw_public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        seed = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return DkimKey("ed25519", 256, base64.b64encode(raw_public).decode(), base64.b64encode(seed))
    kinds = (
        (ec.EllipticCurvePrivateKey, "an elliptic-curve (ECDSA)"),
        (dsa.DSAPrivateKey, "a DSA"),
        (ed448.Ed448PrivateKey, "an Ed448"),
    )
    kind = next((words for cls, words in kinds if isinstance(private, cls)), "another kind of")
    raise ValueError(f"is {kind} key: DKIM signs with RSA or Ed25519 keys only")


def load_key(text: str) -> DkimKey:
    """The key in ``text``, or ValueError saying in words what is wrong with it (never the key)."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("is empty")
    if "-----BEGIN" not in stripped:
        try:
            seed = base64.b64decode(stripped, validate=True)
        except (binascii.Error, ValueError):
            seed = b""
        if len(seed) == 32:
            return _from_private(ed25519.Ed25519PrivateKey.from_private_bytes(seed))
        raise ValueError("is not a PEM private key (it should start with -----BEGIN PRIVATE KEY-----)")
    if "PUBLIC KEY" in stripped.split("\n", 1)[0]:
        raise ValueError("is a public key: give the private key (the public one goes in DNS)")
    try:
        private = serialization.load_pem_private_key(stripped.encode(), password=None)
    except TypeError:
        raise ValueError(
            "is encrypted with a passphrase: give it unencrypted (keep the file private)"
        ) from None
    except Exception:  # ValueError, or UnsupportedAlgorithm for odd curves
        raise ValueError(
            "cannot be read as a private key: the PEM block is damaged, or holds no key optin can use"
        ) from None
    return _from_private(private)


def generate(algorithm: Algorithm = "rsa", bits: int = ADVISED_RSA_BITS) -> tuple[str, DkimKey]:
    """A new private key as PKCS#8 PEM, and the same key loaded."""
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, _from_private(private)


def record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def zone_line(selector: str, domain: str, value: str) -> str:
    """The record as a zone-file line, the value split into DNS strings of at most 255 characters."""
    chunks = [value[i : i + TXT_STRING_MAX] for i in range(0, len(value), TXT_STRING_MAX)]
    strings = " ".join(f'"{chunk}"' for chunk in chunks)
    return f"{record_name(selector, domain)}. 3600 IN TXT ( {strings} )"


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower()


class DkimSigner:
    """Signs flattened messages (the exact bytes that go to the relay) with one key."""

    def __init__(self, domain: str, selector: str, private_key: str) -> None:
        self.domain = domain
        self.selector = selector
        self.key = load_key(private_key)

    def headers_to_sign(self, raw: bytes) -> list[bytes]:
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        present = {
            line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
            for line in head.splitlines()
            if line[:1] not in (b" ", b"\t") and b":" in line
        }
        signed = [name.encode() for name in SIGNED_HEADERS if name in present]
        return [*signed, b"from"]

    def sign(self, raw: bytes) -> bytes:
        """``raw`` with a DKIM-Signature header in front of it."""
        import dkim  # dkimpy: imported here so settings and the CLI load without it

        signature: bytes = dkim.sign(
            raw,
            self.selector.encode(),
            self.domain.encode(),
            self.key.signing_key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=self.key.signature_algorithm,
            include_headers=self.headers_to_sign(raw),
            linesep=b"\r\n",
        )
        return signature + raw
