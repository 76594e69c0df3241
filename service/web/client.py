"""Who is asking: the client's IP, taking X-Forwarded-For only from configured proxies.

Only ``server.trusted_proxies`` decides: the server itself must not rewrite the client address
(uvicorn runs with ``proxy_headers=False``; see README, "Abuse, privacy and security").
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

from service.web.context import services

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """The proxies' addresses (check-config refuses anything else) as one-address networks."""
    networks = []
    for entry in trusted:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return tuple(networks)


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> Address | None:
    """An address as a proxy or a socket writes it ("[::1]:443", "1.2.3.4:80" allowed), IPv4-mapped
    IPv6 read as the IPv4 it is; None if it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: Address, networks: tuple[Network, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


@lru_cache(maxsize=4096)
def _direct(peer_text: str, trusted: tuple[str, ...]) -> str | None:
    """The client when the peer is not a trusted proxy (the peer itself), else None."""
    peer = parse_ip(peer_text)
    if peer is None:
        return peer_text
    return None if _trusted(peer, _networks(trusted)) else str(peer)


def client_ip(request: Request) -> str | None:
    client = request.scope.get("client")
    if not client:
        return None
    peer_text = client[0]
    trusted = services(request).settings.server.trusted_proxies
    direct = _direct(peer_text, trusted)
    if direct is not None:
        return direct
    networks = _networks(trusted)
    peer = parse_ip(peer_text)
    # The right-most address a trusted proxy did not add is the client (earlier ones can be forged).
    hops = [h for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        ip = parse_ip(hop)
        if ip is None:
            break  # not an address: the proxy chain is broken here, so trust no further
        if not _trusted(ip, networks):
            return str(ip)
    return str(peer)
