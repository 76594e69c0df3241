"""HTTP handlers the widget needs: a fresh challenge per form, and the widget's own files.

``GET /v1/forms/{form_id}/challenge`` answers (never cached) with a fresh ALTCHA challenge, a
signed fill-time token and the names of the fields that carry them; CORS is the form's own (the
path is under ``/v1/forms/{form_id}``).

``GET /widget.js`` and ``GET /widget/{version}/{name}`` serve the widget. ``version`` is a hash
of the widget's files, substituted into widget.js, so the script loads its stylesheet, solver and
language files from URLs that never change content and are cached for a year. Files are sent
gzip-compressed to clients that accept it, with ``Access-Control-Allow-Origin: *`` so a page can
use Subresource Integrity (``crossorigin="anonymous"``).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.antibot.guard import AntiBotGuard
from service.antibot.pressure import Pressure, difficulty, pressure, take_challenge
from service.settings import ASSETS_ROOT
from service.store import Transaction
from service.web.client import client_ip
from service.web.context import services

WIDGET_DIR = ASSETS_ROOT / "widget"
VERSION_MARK = b"__OPTIN_VERSION__"
ASSETS = {
    "widget.js": "text/javascript; charset=utf-8",
    "solver.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "enhance.css": "text/css; charset=utf-8",
    "i18n/en.json": "application/json",
    "i18n/fr.json": "application/json",
    "i18n/es.json": "application/json",
    "i18n/de.json": "application/json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"


@dataclass(frozen=True)
class Bundle:
    version: str
    files: dict[str, tuple[bytes, bytes]]  # name -> (body, gzipped body)
    etags: dict[str, bytes]  # name -> its strong ETag, quoted


_cache: dict[tuple[int, ...], Bundle] = {}
_checked: dict[Path, tuple[float, Bundle]] = {}
RECHECK_SECONDS = 2.0  # an edited widget file is served within this; a request costs no stat()


def bundle(directory: Path = WIDGET_DIR) -> Bundle:
    """Every widget file, read once per change on disk; the version hashes them all."""
    now = time.monotonic()
    checked = _checked.get(directory)
    if checked is not None and now - checked[0] < RECHECK_SECONDS:
        return checked[1]
    paths = [directory / name for name in ASSETS]
    stamp = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)
    cached = _cache.get(stamp)
    if cached is not None:
        _checked[directory] = (now, cached)
        return cached
    raw = {name: (p.read_bytes() if p.exists() else b"") for name, p in zip(ASSETS, paths, strict=True)}
    digest = hashlib.sha256()
    for name, body in raw.items():
        digest.update(name.encode() + b"\0" + body + b"\0")
    version = digest.hexdigest()[:12]
    files, etags = {}, {}
    for name, body in raw.items():
        served = body.replace(VERSION_MARK, version.encode()) if name == "widget.js" else body
        files[name] = (served, gzip.compress(served, compresslevel=9, mtime=0))
        etags[name] = b'"' + hashlib.sha256(served).hexdigest()[:20].encode() + b'"'
    _cache.clear()
    _cache[stamp] = result = Bundle(version, files, etags)
    _checked[directory] = (now, result)
    return result


class _Asset(Response):
    """A widget file with its headers prepared once: the hottest path a site's visitors hit."""

    def __init__(self, body: bytes, headers: list[tuple[bytes, bytes]], status: int = 200) -> None:
        self.status_code = status
        self.body = body
        length = [] if status == 304 else [(b"content-length", str(len(body)).encode())]
        self.raw_headers = [*headers, *length]
        self.background = None


def _asset(request: Request, name: str, cache_control: str) -> Response:
    served = bundle()
    if name not in served.files or not served.files[name][0]:
        return Response("not found", status_code=404, media_type="text/plain")
    body, packed = served.files[name]
    etag = served.etags[name]
    gzipped = b"gzip" in _header(request, b"accept-encoding").lower()
    headers = [
        (b"content-type", ASSETS[name].encode()),
        (b"cache-control", cache_control.encode()),
        (b"etag", etag[:-1] + b'-gz"' if gzipped else etag),
        (b"access-control-allow-origin", b"*"),
        (b"cross-origin-resource-policy", b"cross-origin"),
        (b"x-content-type-options", b"nosniff"),
        (b"vary", b"Accept-Encoding"),
    ]
    if _header(request, b"if-none-match") in (etag, etag[:-1] + b'-gz"', b"*"):
        return _Asset(b"", headers, status=304)  # the browser's copy is current: no body at all
    if gzipped:
        headers.append((b"content-encoding", b"gzip"))
        body = packed
    return _Asset(body, headers)


def _header(request: Request, name: bytes) -> bytes:
    return next((v for k, v in request.scope["headers"] if k == name), b"")


async def widget_script(request: Request) -> Response:
    """``GET /widget.js``: the current widget, briefly cached (its sub-files are versioned)."""
    return _asset(request, "widget.js", SHORT)


async def widget_asset(request: Request) -> Response:
    """``GET /widget/{version}/{name:path}``: immutable when ``version`` is the current one."""
    current = request.path_params["version"] == bundle().version
    return _asset(request, request.path_params["name"], IMMUTABLE if current else "no-cache")


async def challenge(request: Request) -> Response:
    """``GET /v1/forms/{form_id}/challenge``: a fresh ALTCHA challenge and fill-time token.

    Each client address is issued at most the form's ``challenges_per_ip_hour`` (429 with
    Retry-After past it), and one that has been refused lately gets a harder challenge.
    """
    svc = services(request)
    form = svc.settings.forms.get(request.path_params["form_id"])
    if form is None:
        return JSONResponse({"error": "there is no such form"}, status_code=404)
    guard = getattr(request.app.state, "antibot", None)
    if not isinstance(guard, AntiBotGuard):
        guard = AntiBotGuard.from_settings(svc.settings, svc.store)
    policy = guard.policy(form)
    ip, now = client_ip(request), time.time()

    def count(tx: Transaction) -> tuple[int | None, Pressure]:
        if ip is None:
            return None, Pressure()
        return take_challenge(tx, ip, policy.challenges_per_ip_hour, now), pressure(tx, ip, now)

    wait, seen = await svc.store.write(count)
    if wait is not None:
        minutes = max(1, math.ceil(wait / 60))
        return JSONResponse(
            {"error": f"too many forms opened from your address; try again in {minutes} minute(s)"},
            status_code=429,
            headers={"Retry-After": str(wait), "Cache-Control": "no-store"},
        )
    body = guard.challenges.issue(form.id, policy, now, difficulty(policy.altcha_max_number, seen))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def embed_snippet(public_url: str, form_id: str) -> str:
    """The pinned ``<script>`` tag for a page: versioned URL and Subresource Integrity hash."""
    current = bundle()
    digest = hashlib.sha384(current.files["widget.js"][0]).digest()
    integrity = "sha384-" + base64.b64encode(digest).decode()
    return (
        f'<script src="{public_url.rstrip("/")}/widget/{current.version}/widget.js"\n'
        f'        integrity="{integrity}" crossorigin="anonymous"\n'
        f'        data-form="{form_id}" async></script>'
    )


if __name__ == "__main__":  # python -m service.antibot.http https://signup.example.com newsletter
    import sys

    args = sys.argv[1:]
    url = args[0] if args else "https://signup.example.com"
    print(embed_snippet(url, args[1] if len(args) > 1 else "newsletter"))
