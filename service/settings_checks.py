"""Checks of single setting values, each answering None (fine) or the reason in words."""

from __future__ import annotations

import ipaddress
import os
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from service.verification.syntax import check_syntax

DATABASE_FORMS = "sqlite:///PATH or postgresql://USER@HOST/DATABASE"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def port_problem(value: int, *, allow_zero: bool = False) -> str | None:
    low = 0 if allow_zero else 1
    if low <= value <= 65535:
        return None
    return f"must be a port number from {low} to 65535, not {value}"


def address_problem(value: str, *, display_name: bool = False) -> str | None:
    """Whether ``value`` is an email address (``Name <a@b.c>`` too when ``display_name``)."""
    address = value
    if display_name:
        name, address = parseaddr(value)
        if not address or (not name and address != value.strip()):
            return f'must be an address such as "Example News <news@example.com>", not {value!r}'
    if check_syntax(address).error is not None or "@" not in address:
        example = '"Example News <news@example.com>"' if display_name else '"owner@example.com"'
        return f"must be an address such as {example}, not {value!r}"
    return None


def _sqlite_problem(path: str) -> str | None:
    if path == ":memory:":
        return None
    if not path:
        return "sqlite:/// must be followed by the database file's path (sqlite:///./optin.db)"
    file = Path(path)
    if file.is_dir():
        return f"{path} is a directory; name the database file in it (sqlite:///{path.rstrip('/')}/optin.db)"
    if file.exists():
        return None if os.access(file, os.R_OK | os.W_OK) else f"the database file {path} is not writable"
    folder = file.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a directory, so {path} cannot be created"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{path} cannot be created: the directory {folder} is not writable by this user"
    return None


def database_problem(url: str) -> str | None:
    """Whether ``url`` names a database optin can use (its form only: nothing is opened)."""
    if url.startswith("sqlite:///"):
        return _sqlite_problem(url.removeprefix("sqlite:///"))
    scheme = url.split(":", 1)[0] if ":" in url else ""
    if scheme not in ("postgresql", "postgres"):
        return f"must be {DATABASE_FORMS}, not {url.split('@')[-1]!r}"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "has a port that is not a number from 1 to 65535"
    query = parse_qs(parts.query)
    if not parts.hostname and not query.get("host"):
        return f"names no host: {DATABASE_FORMS}"
    if not parts.path.strip("/") and not query.get("dbname"):
        return f"names no database: {DATABASE_FORMS}"
    return None


def url_problem(url: str, *, production: bool) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"must be an http(s) URL, not {url!r}"
    if production and parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        return (
            f"must start with https:// in production, not {url!r}: the links optin emails carry"
            " credentials and browsers treat plain-http pages as unsafe"
        )
    return None


def proxy_problem(value: str) -> str | None:
    """A proxy is an address ("10.0.0.7") or a network ("10.244.0.0/16": Kubernetes ingress pods
    change address); a name is refused, and so is a network wider than /8 (IPv6: /32), which
    would let most of the internet choose its own address."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return (
            f"{value!r} is not an IP address or network (list each proxy's address, e.g. 10.0.0.7,"
            " or its network, e.g. 10.244.0.0/16; not a name)"
        )
    widest = 8 if network.version == 4 else 32
    if network.prefixlen < widest:
        return f"{value!r} is wider than /{widest}: that would believe X-Forwarded-For from almost anyone"
    return None
