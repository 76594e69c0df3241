"""``server.public_url``, the domain of every link we email: HTTPS, on the sender's registrable
domain (a link to another domain than the sender's looks like phishing), and the unsubscribe
endpoint answering the POST a mailbox provider sends for RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import ipaddress
import ssl
from urllib.parse import urlsplit

import httpx

from service.deliverability.dns import Dns
from service.deliverability.report import Check, fail, ok, warn
from service.settings import Settings
from service.tokens import Tokens
from service.verification.lists import registrable_domain

PROBE_ADDRESS = "doctor@invalid"  # the test link names contact 0, which never exists


def check_url(settings: Settings, from_domain: str) -> list[Check]:
    url = settings.server.public_url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    checks = []
    if parts.scheme == "https":
        checks.append(ok(f"public URL: {url} is HTTPS"))
    else:
        checks.append(
            fail(
                f"public URL: {url} is plain HTTP: mail whose links are not HTTPS looks unsafe, and browsers warn",
                "serve optin over HTTPS (deploy/proxy has Caddy and nginx set-ups) and set server.public_url",
            )
        )
    mine, theirs = registrable_domain(host) if not _is_ip(host) else None, registrable_domain(from_domain)
    if mine and theirs and mine == theirs:
        checks.append(ok(f"public URL: {host} is on the sender's domain {theirs}"))
    else:
        checks.append(
            warn(
                f"public URL: the links go to {host}, the mail comes from {from_domain}: links to another"
                " domain than the sender's look like phishing to filters and readers",
                f"serve optin on a subdomain of {theirs or from_domain} (e.g. signup.{theirs or from_domain})",
            )
        )
    return checks


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def check_unsubscribe_post(
    settings: Settings, lookup: Dns, ca_file: str | None = None, timeout: float = 10.0
) -> list[Check]:
    """POST a one-click unsubscribe, as Gmail does, with a link that names nobody: optin answers
    410 ("no longer valid") and changes nothing. Anything else is what a provider would meet."""
    base = settings.server.public_url
    parts = urlsplit(base)
    host = parts.hostname or ""
    form_id = next(iter(settings.forms), "newsletter")
    token = Tokens(settings.server.secret_key).unsubscribe(0, form_id, PROBE_ADDRESS)
    path = f"{parts.path.rstrip('/')}/unsubscribe/{token}"
    # The host is resolved with the configured resolvers, like every other check: what the world sees.
    addresses, error = lookup.addresses(host)
    if not addresses:
        return [
            fail(
                f"unsubscribe: {host} has no address in DNS{f' ({error})' if error else ''}",
                "publish an A (or AAAA) record for it",
            )
        ]
    address = addresses[0]
    netloc = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port else ""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    try:
        async with httpx.AsyncClient(verify=context, timeout=timeout, trust_env=False) as client:
            answer = await client.post(
                f"{parts.scheme}://{netloc}{port}{path}",
                content=b"List-Unsubscribe=One-Click",
                headers={
                    "Host": parts.netloc.rpartition("@")[2],
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": "optin-doctor (one-click unsubscribe check)",
                },
                extensions={"sni_hostname": host} if parts.scheme == "https" else {},
            )
    except httpx.HTTPError as exc:
        return [
            fail(
                f"unsubscribe: POST {base}/unsubscribe/… failed: {exc or type(exc).__name__}",
                "optin must be reachable at server.public_url from the Internet",
            )
        ]
    where = f"POST {base}/unsubscribe/… (one-click, RFC 8058)"
    if answer.status_code == 410:
        return [ok(f"unsubscribe: {where} reaches optin")]
    if answer.status_code == 404:
        return [
            fail(
                f"unsubscribe: {where} answered 404: the link was not accepted there",
                "check that server.secret_key is the running service's, and that the proxy sends"
                " /unsubscribe/ to optin",
            )
        ]
    return [
        fail(
            f"unsubscribe: {where} answered {answer.status_code} {answer.reason_phrase}",
            "let POST requests to /unsubscribe/ through to optin (a proxy or firewall may allow GET only)",
        )
    ]
