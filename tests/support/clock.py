"""A clock a test moves on: the service's idea of now, without waiting for it."""

from __future__ import annotations

import time


class Clock:
    """Real time plus an offset; ``advance`` moves every later reading on."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
