"""The email policy our messages are built with: headers that must stay as they are, do.

The email library folds a header at 78 characters, and a header holding one long word (an
RFC 8058 ``List-Unsubscribe: <https://…/unsubscribe/TOKEN>``) can only be folded by turning it
into RFC 2047 encoded words — which no mailbox provider decodes there, so one-click unsubscribe
silently stops working. Such headers are written on one line instead (RFC 5322 allows 998
characters), and only when they are plain ASCII without line breaks.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.policy import Policy

KEPT_WHOLE = ("list-unsubscribe", "list-unsubscribe-post")
MAX_LINE = 998


class _WholeHeader(UnstructuredHeader):
    def fold(self, *, policy: Policy) -> str:
        line = f"{self.name}: {self}"  # type: ignore[attr-defined]  # BaseHeader, mixed in by the registry
        if not line.isascii() or "\r" in line or "\n" in line or len(line) > MAX_LINE:
            return str(super().fold(policy=policy))  # type: ignore[misc]
        return line + str(policy.linesep)


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in KEPT_WHOLE:
        registry.map_to_type(name, _WholeHeader)  # type: ignore[arg-type]  # typeshed: BaseHeader only
    return registry


MAIL_POLICY = policy.default.clone(header_factory=_registry())
