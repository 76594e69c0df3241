"""Is an IP address on the public Internet, where a mail server could be reached? Pure.

The standard library's ``is_global`` is the base, with two gaps closed:

- Python before 3.11.10 / 3.12.4 (CVE-2024-4032) misses rows of the IANA special-purpose
  registries (192.0.0.0/24, 198.18.0.0/15 wrongly pass; 2001:3::/32 wrongly fails), and no
  version knows the newest rows (3fff::/20, 5f00::/16, 100:0:0:1::/64) or calls multicast and
  site-local ``fec0::/10`` non-global. The registries' answers are written out below, so every
  Python gives the same one.
- An IPv6 address may carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
  ``::a.b.c.d``, IPv4-translated ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
  ``2002::/16``): it is judged by the IPv4 address it leads to, so ``::ffff:127.0.0.1`` or
  ``64:ff9b::10.0.0.1`` is as private as the address inside. Teredo (``2001::/32``, its client
  address obfuscated) and local-use NAT64 (``64:ff9b:1::/48``) are never public.

tests/data/special_addresses holds the registries the tests check every row of.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

Address = IPv4Address | IPv6Address


def _nets(*specs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(spec) for spec in specs)


# "Globally Reachable: False" (and terminated) rows, plus fec0::/10 (site-local, deprecated by
# RFC 3879, never in the registry). Nested rows that are also not global are covered by these.
_NOT_GLOBAL = _nets(
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",  # 6to4 relay anycast, terminated 2015
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::1/128",
    "::/128",
    "64:ff9b:1::/48",
    "100::/64",
    "100:0:0:1::/64",
    "2001::/23",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
)
# "Globally Reachable: True" rows inside the blocks above (anycast services, AMT, ORCHIDv2...).
_GLOBAL_INSIDE = _nets(
    "192.0.0.9/32",
    "192.0.0.10/32",
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:1::3/128",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:20::/28",
    "2001:30::/28",
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


def _inside(ip: Address, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def _global(ip: Address) -> bool:
    """The registries' answer for an address that carries no other."""
    if ip.is_multicast:
        return False
    if _inside(ip, _GLOBAL_INSIDE):
        return True
    if _inside(ip, _NOT_GLOBAL) or ip.is_reserved:
        return False
    return ip.is_global


def carried_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address leads to, for the forms that embed one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    low = IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64 or ip in _IPV4_TRANSLATED:
        return low
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not :: or ::1, which are themselves
        return low
    return None


def is_public(address: str) -> bool:
    """Whether a server at this IP address could be reached from the Internet."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, IPv6Address):
        if ip.teredo is not None:
            return False
        carried = carried_ipv4(ip)
        if carried is not None:
            # 6to4 is a real IPv6 prefix too; the other carriers are only spellings of the IPv4.
            outer_ok = ip.sixtofour is None or _global(ip)
            return outer_ok and _global(carried)
    return _global(ip)
