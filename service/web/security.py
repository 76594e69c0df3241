"""Headers every response carries unless it sets its own; HTML pages add their own CSP."""

from __future__ import annotations

from collections.abc import Iterable

Header = tuple[bytes, bytes]

BASE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    def __init__(self, https: bool) -> None:
        self.extra = [*BASE, HSTS] if https else list(BASE)
        self._names = frozenset(name for name, _ in self.extra)

    def added_to(self, headers: Iterable[Header]) -> list[Header]:
        """A new list: ``headers``, then each of ours the response did not set itself."""
        found = list(headers)
        # Header names from Starlette and our handlers are lower-case bytes already.
        if self._names.isdisjoint(dict(found)):  # the common case: none of ours set
            found += self.extra
        else:  # a page that sets its own
            present = {name for name, _ in found}
            found += [h for h in self.extra if h[0] not in present]
        return found
