"""Shared plumbing of the ESP connectors: one httpx client each, errors in words, common options.

Every ESP connector owns one :class:`EspApi` (an ``httpx.AsyncClient`` whose pool is capped at
the connector's ``max_concurrency``) and turns each reply it did not expect into a
:class:`ConnectorError` carrying the ESP's own message, whether a retry can help, and how long
to wait (``Retry-After`` first, else the vendor's rate-limit reset header).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from service.connectors.base import Contact
from service.errors import ConfigError, ConnectorError
from service.numbers import whole_number

Policy = Literal["add_update", "add_only", "update_only"]
POLICIES: tuple[Policy, ...] = ("add_update", "add_only", "update_only")

# A retry cannot help with these: the request itself, the key or the list is wrong.
_NUMBER = re.compile(r"\s*\d+(\.\d+)?")
_PERMANENT = frozenset({400, 401, 403, 404, 405, 409, 410, 411, 413, 414, 415, 422})


@dataclass(frozen=True)
class ResetHeader:
    """A vendor's rate-limit reset header: seconds to wait, or the Unix time of the reset."""

    name: str
    kind: Literal["seconds", "epoch"]


def retry_after(response: httpx.Response, reset: ResetHeader | None = None) -> float | None:
    """Seconds to wait before retrying, from ``Retry-After`` or the vendor's reset header."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        if (seconds := whole_number(value)) is not None:
            return float(seconds)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - time.time())
    if reset is not None:
        # Some vendors add a unit ("600 seconds"): read the leading number.
        match = _NUMBER.match(response.headers.get(reset.name, ""))
        if match:
            number = float(match.group())
            return max(0.0, number - time.time()) if reset.kind == "epoch" else max(0.0, number)
    return None


def vendor_message(response: httpx.Response) -> str:
    """The ESP's own explanation, from whichever error shape it uses, else the body's start."""
    try:
        body: Any = response.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        text = response.text.strip()
        return text[:300] if text else response.reason_phrase
    parts: list[str] = []
    if isinstance(body, dict):
        for key in ("title", "detail", "message", "ErrorMessage", "ErrorInfo", "error"):
            value = body.get(key)
            if isinstance(value, str) and value and value not in parts:
                parts.append(value)
            elif isinstance(value, dict) and value:
                parts.append(", ".join(f"{k}: {v}" for k, v in value.items()))
        for item in body.get("errors") or []:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, dict):
                where = item.get("field") or item.get("email_address")
                what = item.get("message") or item.get("error") or ""
                parts.append(f"{where}: {what}" if where else str(what))
        context = body.get("context")
        if isinstance(context, list | dict) and context:
            parts.append(f"context: {context}")
    elif isinstance(body, list):
        parts.extend(vendor_message_item(item) for item in body)
    return "; ".join(p for p in parts if p) or response.text[:300] or response.reason_phrase


def vendor_message_item(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("message") or item.get("error") or item)
    return str(item)


def error_from_response(
    vendor: str,
    response: httpx.Response,
    *,
    reset: ResetHeader | None = None,
    throttle_wait: float | None = None,
) -> ConnectorError:
    """``throttle_wait``: the vendor's documented wait after a 429 that names none."""
    status = response.status_code
    detail = f"{vendor} answered {status} {response.reason_phrase}: {vendor_message(response)}"
    permanent = status in _PERMANENT or (400 <= status < 500 and status not in (408, 425, 429))
    wait = None if permanent else retry_after(response, reset)
    if wait is None and status == 429:
        wait = throttle_wait
    return ConnectorError(detail, code=status, permanent=permanent, retry_after=wait)


class EspApi:
    """An httpx client bound to one ESP account, raising ConnectorError on unexpected replies."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        max_concurrency: int,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        reset: ResetHeader | None = None,
        throttle_wait: float | None = None,
        overloaded: Callable[[httpx.Response], bool] | None = None,
    ) -> None:
        self.vendor = vendor
        self.reset = reset
        self.throttle_wait = throttle_wait
        self.overloaded = overloaded  # a vendor's 4xx that really means "busy, retry"
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": "optin (double opt-in signup service)", **(headers or {})},
            auth=httpx.BasicAuth(*auth) if auth else None,
            # The pool bounds concurrency; waiting for a free connection is not an error.
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            timeout=httpx.Timeout(timeout, pool=None),
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send one request; a 2xx or a status in ``accept`` is returned, anything else raised."""
        try:
            response = await self.client.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise ConnectorError(f"{self.vendor} did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise ConnectorError(f"{self.vendor} could not be reached: {exc or type(exc).__name__}") from exc
        if response.is_success or response.status_code in accept:
            return response
        raise self.fail(response)

    def fail(self, response: httpx.Response) -> ConnectorError:
        error = error_from_response(self.vendor, response, reset=self.reset, throttle_wait=self.throttle_wait)
        if error.permanent and self.overloaded is not None and self.overloaded(response):
            error.permanent = False
            error.detail = error.detail + " (treated as overload: retrying)"
            error.args = (error.detail,)
        return error

    async def aclose(self) -> None:
        await self.client.aclose()


def json_body(response: httpx.Response) -> Any:
    """The reply's JSON, or None when it has none (204, 202 with an empty body)."""
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


# -- options shared by every ESP connector -------------------------------------------------------


@dataclass
class Options:
    """Read one ``[connectors.NAME]`` table, collecting every problem before raising."""

    name: str
    table: Mapping[str, Any]
    problems: list[str] = field(default_factory=list)
    read: set[str] = field(default_factory=lambda: {"kind"})

    def where(self, key: str) -> str:
        self.read.add(key)
        return f"connectors.{self.name}.{key}"

    def refuse(self, key: str, why: str) -> None:
        if key in self.table:
            self.problems.append(f"{self.where(key)}: {why}")

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        self.read.add(key)
        value = self.table.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or (required and not value.strip()):
            what = "is missing" if key not in self.table else "must be a non-empty string"
            if required or key in self.table:
                self.problems.append(f"{self.where(key)} {what}")
            return default
        return value.strip()

    def number(self, key: str, default: float) -> float:
        self.read.add(key)
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.problems.append(f"{self.where(key)} must be a positive number (got {value!r})")
            return default
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        self.read.add(key)
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{self.where(key)} must be true or false (got {value!r})")
            return default
        return value

    def policy(self) -> Policy:
        self.read.add("policy")
        value = self.table.get("policy", "add_update")
        for policy in POLICIES:
            if value == policy:
                return policy
        self.problems.append(f"{self.where('policy')} must be one of {', '.join(POLICIES)} (got {value!r})")
        return "add_update"

    def strings(self, key: str) -> tuple[str, ...]:
        self.read.add(key)
        value = self.table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            self.problems.append(f"{self.where(key)} must be a list of strings")
            return ()
        return tuple(str(v) for v in value)

    def mapping(self, key: str, default: Mapping[str, str]) -> dict[str, str]:
        """A ``{our name = "their name"}`` table merged over ``default``; "" drops a default."""
        self.read.add(key)
        value = self.table.get(key, {})
        if not isinstance(value, Mapping) or not all(isinstance(v, str | int) for v in value.values()):
            self.problems.append(
                f'{self.where(key)} must be a table of names, like {{ first_name = "FNAME" }}'
            )
            return dict(default)
        merged = {**default, **{str(k): str(v) for k, v in value.items()}}
        return {k: v for k, v in merged.items() if v}

    def check(self) -> None:
        """Raise ConfigError listing every problem, including keys no option reads (typos)."""
        for key in sorted(set(self.table) - self.read):
            self.problems.append(f"connectors.{self.name}.{key} is not an option of this connector kind")
        if self.problems:
            raise ConfigError(self.problems)


def field_values(contact: Contact, fields: Mapping[str, str]) -> dict[str, str]:
    """ESP field name -> value, for every mapped field the contact has a value for.

    ``fields`` maps our names (``first_name``, ``last_name``, ``language`` or a key of
    ``Contact.fields``) to the ESP's; unmapped custom fields are not sent.
    """
    ours: dict[str, str | None] = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "language": contact.language,
    }
    out: dict[str, str] = {}
    for source, target in fields.items():
        value = ours[source] if source in ours else contact.fields.get(source)
        if value:
            out[target] = value
    return out


def tag_values(
    contact: Contact, static: tuple[str, ...], tag_map: Mapping[str, str], *, passthrough: bool
) -> list[str]:
    """The form's fixed tags plus the contact's, renamed through ``tag_map``, plus those of the
    lists the contact chose (already the ESP's own tags).

    An unmapped contact tag is kept only when the ESP takes tags by name (``passthrough``).
    """
    tags = list(static)
    for tag in contact.tags:
        mapped = tag_map.get(tag) or (tag if passthrough else None)
        if mapped and mapped not in tags:
            tags.append(mapped)
    for tag in contact.list_tags():
        if tag not in tags:
            tags.append(tag)
    return tags
