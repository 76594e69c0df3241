"""The rate counts a batch has taken but not written yet, looked up by key.

Every operation of a batch counts the hits its predecessors in the same batch took before they
reach the table (see Transaction.flush). Scanning one list of them per look-up made a batch of n
signups cost n² steps (a burst of a thousand queued signups: half a million); here each key's
pending counts are found at once, and undoing an operation's counts costs only what it added.
"""

from __future__ import annotations

from collections import Counter


class PendingCounts:
    def __init__(self) -> None:
        self.hits: list[tuple[str, float]] = []  # (key, at): rows for rate_hits, in order
        self.buckets: list[tuple[str, int, int]] = []  # (key, bucket, amount): to undo, in order
        self._hits_of: dict[str, list[float]] = {}
        self._buckets_of: dict[str, Counter[int]] = {}

    def add_hit(self, key: str, at: float) -> None:
        self.hits.append((key, at))
        self._hits_of.setdefault(key, []).append(at)

    def add_to_bucket(self, key: str, bucket: int, amount: int = 1) -> None:
        """``amount`` more in the bucket (less, when negative: a count given back)."""
        self.buckets.append((key, bucket, amount))
        counts = self._buckets_of.setdefault(key, Counter())
        counts[bucket] += amount
        if not counts[bucket]:
            del counts[bucket]

    def hits_since(self, key: str, since: float) -> list[float]:
        return [at for at in self._hits_of.get(key, ()) if at > since]

    def in_buckets(self, key: str, first_bucket: int) -> tuple[int, int] | None:
        """How many of ``key``'s pending increments fall in buckets from ``first_bucket`` on,
        and the oldest such bucket; None for none."""
        counts = self._buckets_of.get(key)
        found = [(bucket, n) for bucket, n in counts.items() if bucket >= first_bucket] if counts else []
        if not found:
            return None
        return sum(n for _, n in found), min(bucket for bucket, _ in found)

    def increments(self) -> list[tuple[str, int, int]]:
        """(key, bucket, net amount) for each bucket that changed, sorted: what the flush writes."""
        return sorted(
            (key, bucket, n) for key, counts in self._buckets_of.items() for bucket, n in counts.items()
        )

    def mark(self) -> tuple[int, int]:
        return len(self.hits), len(self.buckets)

    def rollback_to(self, mark: tuple[int, int]) -> None:
        """Forget what was added since ``mark`` (an operation failed and its savepoint is gone)."""
        while len(self.hits) > mark[0]:
            key, _ = self.hits.pop()
            self._hits_of[key].pop()
        while len(self.buckets) > mark[1]:
            key, bucket, amount = self.buckets.pop()
            counts = self._buckets_of[key]
            counts[bucket] -= amount
            if not counts[bucket]:
                del counts[bucket]
