"""The verifier for synchronous code: a private event loop on a background thread."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from service.verification.config import VerifierConfig
from service.verification.engine import Verifier
from service.verification.verdict import Policy, Verdict


class SyncVerifier:
    """``with SyncVerifier(config) as v: v.verify("a@example.com")`` — works with or without a
    running event loop in the calling thread (it blocks the caller, not a loop of its own)."""

    def __init__(self, config: VerifierConfig | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="optin-verify", daemon=True)
        self._thread.start()
        self.verifier = Verifier(config)

    def verify(self, address: str, policy: Policy | None = None) -> Verdict:
        future = asyncio.run_coroutine_threadsafe(self.verifier.verify(address, policy), self._loop)
        return future.result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.verifier.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncVerifier:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def verify_sync(address: str, policy: Policy | None = None, config: VerifierConfig | None = None) -> Verdict:
    """Verify one address from synchronous code (for many, keep a :class:`SyncVerifier`)."""
    with SyncVerifier(config) as verifier:
        return verifier.verify(address, policy)
