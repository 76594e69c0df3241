"""Address verification: the seam the subscribe path and the widget call.

``await Verifier(config).verify(address, policy)`` returns a :class:`Verdict`: syntax and
normalisation, disposable/role/free lists, DNS (MX, null MX, A fallback, MX host addresses), typo
suggestions and, when enabled, an SMTP RCPT probe. ``verify_sync`` / :class:`SyncVerifier` serve
synchronous code. ``lists.sources()`` says where each list comes from.
"""

from __future__ import annotations

from service.verification.config import VerifierConfig
from service.verification.decision import decide
from service.verification.engine import Verifier
from service.verification.lists import sources
from service.verification.sync import SyncVerifier, verify_sync
from service.verification.syntax import check_syntax, normalize
from service.verification.verdict import Decision, Policy, Status, Verdict

__all__ = [
    "Decision",
    "Policy",
    "Status",
    "SyncVerifier",
    "Verdict",
    "Verifier",
    "VerifierConfig",
    "check_syntax",
    "decide",
    "normalize",
    "sources",
    "verify_sync",
]
