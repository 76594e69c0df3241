"""Counts a batch has taken but not written: found per key, forgotten exactly when an operation
fails, and the limits they feed hold within one batch of many operations."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.errors import InputError
from service.limits import allow_confirmation_email, check_request
from service.settings import LimitSettings
from service.store import open_store
from service.store.pending import PendingCounts
from service.store.transaction import Transaction


def test_each_key_sees_only_its_own_counts_from_a_bucket_on() -> None:
    pending = PendingCounts()
    pending.add_to_bucket("form:a", 10)
    pending.add_to_bucket("form:a", 12)
    pending.add_to_bucket("form:a", 12)
    pending.add_to_bucket("form:b", 11)
    assert pending.in_buckets("form:a", 10) == (3, 10)
    assert pending.in_buckets("form:a", 11) == (2, 12)
    assert pending.in_buckets("form:a", 13) is None
    assert pending.in_buckets("form:b", 0) == (1, 11)
    assert pending.in_buckets("form:c", 0) is None
    pending.add_hit("mail:x", 5.0)
    pending.add_hit("mail:x", 9.0)
    assert pending.hits_since("mail:x", 6.0) == [9.0]
    assert pending.hits_since("mail:y", 0.0) == []


def test_a_rollback_forgets_what_was_added_after_the_mark_and_nothing_before() -> None:
    pending = PendingCounts()
    pending.add_to_bucket("form:a", 10)
    pending.add_hit("mail:x", 1.0)
    mark = pending.mark()
    pending.add_to_bucket("form:a", 10)
    pending.add_to_bucket("form:a", 11)
    pending.add_hit("mail:x", 2.0)
    pending.add_hit("mail:y", 3.0)
    pending.rollback_to(mark)
    assert pending.in_buckets("form:a", 0) == (1, 10)
    assert pending.hits_since("mail:x", 0.0) == [1.0]
    assert pending.hits_since("mail:y", 0.0) == []
    assert pending.buckets == [("form:a", 10, 1)] and pending.hits == [("mail:x", 1.0)]
    pending.rollback_to(mark)  # nothing more to forget
    assert pending.in_buckets("form:a", 0) == (1, 10)


# Per visitor: counted under a lock on PostgreSQL (a form's own counter is approximate there).
LIMITS = LimitSettings(
    signups_per_form_hour=0, signups_per_ip_hour=10, signups_per_network_hour=0, emails_per_address_day=3
)


class Refused(Exception):
    pass


@pytest.mark.parametrize("kind", ["limit", "budget"])
async def test_one_batch_of_many_operations_counts_exactly_and_forgets_failed_ones(
    db_url: str, kind: str
) -> None:
    store = await open_store(db_url)
    now = time.time()

    def count(tx: Transaction) -> bool:
        if kind == "limit":
            check_request(tx, LIMITS, "news", "198.51.100.7", now)
            return True
        return allow_confirmation_email(tx, LIMITS, "someone", now)

    def count_then_fail(tx: Transaction) -> bool:
        count(tx)
        raise Refused("its savepoint and its counts go")

    async def attempt(i: int) -> bool | None:
        try:
            return await store.write(count_then_fail if i % 2 else count)
        except Refused:
            return None
        except InputError as exc:
            assert exc.status == 429
            return False

    try:
        # Queued at once: a handful of batches at most, each operation counting its
        # predecessors' pending counts.
        outcomes = await asyncio.gather(*(attempt(i) for i in range(120)))
    finally:
        await store.close()
    limit = 10 if kind == "limit" else 3
    assert outcomes.count(True) == limit
    # The failing ones, interleaved, took nothing: the first ``limit`` of the others all passed.
    assert outcomes[: 2 * limit : 2] == [True] * limit


def test_a_count_given_back_lowers_the_bucket_and_a_rollback_undoes_it() -> None:
    pending = PendingCounts()
    pending.add_to_bucket("admin-signin:all", 7)
    mark = pending.mark()
    pending.add_to_bucket("admin-signin:all", 7, -1)
    assert pending.in_buckets("admin-signin:all", 0) is None
    pending.rollback_to(mark)
    assert pending.in_buckets("admin-signin:all", 0) == (1, 7)
    pending.add_to_bucket("admin-signin:ip:x", 8, -1)  # counted by an earlier batch, given back
    assert pending.in_buckets("admin-signin:ip:x", 0) == (-1, 8)
