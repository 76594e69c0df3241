"""Fetching a recurring import's source under the rules of every outbound call.

HTTPS only (plain HTTP to loopback only when the import allows loopback, for trials and tests);
the host's addresses are resolved first and every one must be a public address (the project's
classification, :func:`service.verification.dnscheck.is_routable`): no private, link-local,
CGNAT or metadata addresses, and no loopback unless allowed. The request then goes to the address
that was checked (the name only in ``Host`` and TLS SNI), so DNS cannot answer differently a moment
later. Redirects are followed by hand, each target checked the same way. The body streams to a
file, stopped past ``max_bytes``; the whole fetch has one deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import tempfile
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from service.errors import InputError
from service.imports.settings import ImportSettings
from service.verification.dnscheck import is_routable

MAX_REDIRECTS = 5


class FetchError(InputError):
    """The source could not be fetched; the message says why, in words."""


def _allowed(ip: str, allow_loopback: bool) -> bool:
    if is_routable(ip):
        return True
    address = ipaddress.ip_address(ip)
    return allow_loopback and address.is_loopback


async def _addresses(host: str, port: int) -> list[str]:
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"the source's host {host} cannot be found ({exc.strerror})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def _checked_target(url: str, settings: ImportSettings) -> tuple[str, str, str]:
    """(URL with the checked address as host, the Host header, the TLS server name) or FetchError."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # "https://[x" or a port past 65535, perhaps from a redirect
        raise FetchError(f"{url} is not a usable URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise FetchError(f"{url} is not an http(s) URL")
    addresses = await _addresses(host, port)
    refused = [ip for ip in addresses if not _allowed(ip, settings.allow_loopback)]
    if refused or not addresses:
        raise FetchError(
            f"refused to fetch {url}: {host} resolves to {', '.join(refused or addresses) or 'nothing'},"
            " which is not a public address (private, loopback or reserved networks are never fetched)"
        )
    ip = addresses[0]
    if parts.scheme == "http" and not ipaddress.ip_address(ip).is_loopback:
        raise FetchError(f"refused to fetch {url}: only https:// is allowed (plain http only on loopback)")
    shown = f"[{ip}]" if ":" in ip else ip
    netloc = f"{shown}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    return pinned, host_header, host


async def fetch(settings: ImportSettings, folder: Path) -> Path:
    """The source as a local file in ``folder`` (a local source is used where it is)."""
    if not settings.is_url:
        return _local(settings)
    try:
        async with asyncio.timeout(settings.timeout):
            return await _download(settings, folder)
    except TimeoutError:
        raise FetchError(f"fetching {settings.source} took longer than {settings.timeout:g} s") from None


def _local(settings: ImportSettings) -> Path:
    path = Path(settings.source)
    if not path.is_file():
        raise FetchError(f"the source file {path} does not exist (or is not a file)")
    if path.stat().st_size > settings.max_bytes:
        raise FetchError(f"the source file {path} is larger than max_bytes ({settings.max_bytes:,} bytes)")
    return path


def _open_new(folder: Path, url: str) -> tuple[Path, BinaryIO]:
    """A new file in ``folder`` named after the URL's last segment (its suffix tells the format)."""
    name = Path(urlsplit(url).path).name or "source"
    handle, temporary = tempfile.mkstemp(dir=folder, suffix="-" + name)
    return Path(temporary), os.fdopen(handle, "wb")


async def _download(settings: ImportSettings, folder: Path) -> Path:
    url = settings.source
    target, out = _open_new(folder, url)
    with out:
        return await _follow(settings, url, target, out)


async def _follow(settings: ImportSettings, url: str, target: Path, out: BinaryIO) -> Path:
    async with httpx.AsyncClient(follow_redirects=False, timeout=settings.timeout) as client:
        for _ in range(MAX_REDIRECTS + 1):
            pinned, host_header, server_name = await _checked_target(url, settings)
            request = client.build_request(
                "GET",
                pinned,
                headers={
                    **settings.headers,
                    "Host": host_header,
                    "Accept": "text/csv, application/x-ndjson, */*",
                },
                extensions={"sni_hostname": server_name},
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchError(f"fetching {url} failed: {exc or type(exc).__name__}") from None
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    try:
                        url = urljoin(url, location)
                    except ValueError:
                        raise FetchError(
                            f"{url} redirects to {location[:200]!r}, which is not a URL"
                        ) from None
                    continue
                if response.status_code != 200:
                    raise FetchError(f"{url} answered {response.status_code} {response.reason_phrase}")
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > settings.max_bytes:
                        raise FetchError(f"{url} is larger than max_bytes ({settings.max_bytes:,} bytes)")
                    out.write(chunk)
                return target
            finally:
                await response.aclose()
    raise FetchError(f"{settings.source} redirects more than {MAX_REDIRECTS} times")
