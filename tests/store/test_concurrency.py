"""Instances sharing one PostgreSQL decide limits and budgets one after the other, like SQLite's
single writer does: two stores on one database, many operations at once, exact counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from service.errors import InputError
from service.limits import allow_confirmation_email, check_request
from service.settings import LimitSettings
from service.store import Store, open_store
from tests.support.postgres import Cluster

LIMITS = LimitSettings(signups_per_ip_hour=20, signups_per_network_hour=1000, emails_per_address_day=1)


async def _two_stores(url: str) -> tuple[Store, Store]:
    return await open_store(url), await open_store(url)


async def test_a_per_ip_limit_holds_across_two_instances(postgres: Cluster) -> None:
    first, second = await _two_stores(postgres.new_database())
    now = time.time()

    async def signup(store: Store) -> bool:
        try:
            await store.write(lambda tx: check_request(tx, LIMITS, "news", "198.51.100.7", now))
        except InputError as exc:
            assert exc.status == 429
            return False
        return True

    try:
        outcomes = await asyncio.gather(*(signup(first if i % 2 else second) for i in range(60)))
    finally:
        await first.close()
        await second.close()
    assert outcomes.count(True) == 20


async def test_a_per_ip_limit_holds_when_the_forms_own_limit_is_off(postgres: Cluster) -> None:
    # The visitor's key used to be locked only when the form's counter came first in the list:
    # with the form's limit off, concurrent batches each let the full limit through (30 of 10).
    first, second = await _two_stores(postgres.new_database())
    limits = LimitSettings(signups_per_form_hour=0, signups_per_ip_hour=10, signups_per_network_hour=0)
    now = time.time()

    async def signup(store: Store) -> bool:
        try:
            await store.write(lambda tx: check_request(tx, limits, "news", "198.51.100.7", now))
        except InputError as exc:
            assert exc.status == 429
            return False
        return True

    try:
        outcomes = await asyncio.gather(*(signup(first if i % 3 else second) for i in range(150)))
    finally:
        await first.close()
        await second.close()
    assert outcomes.count(True) == 10


async def test_a_per_ip_challenge_limit_holds_across_two_instances(postgres: Cluster) -> None:
    # Forms opened at once from one address, on two instances: each batch used to count only
    # the challenges committed before it, and let the whole hour's allowance through again.
    from service.antibot.pressure import take_challenge

    first, second = await _two_stores(postgres.new_database())
    now = time.time()
    try:
        waits = await asyncio.gather(
            *(
                (first if i % 3 else second).write(lambda tx: take_challenge(tx, "198.51.100.7", 30, now))
                for i in range(300)
            )
        )
    finally:
        await first.close()
        await second.close()
    assert waits.count(None) == 30


async def test_an_address_budget_is_spent_once_across_two_instances(postgres: Cluster) -> None:
    first, second = await _two_stores(postgres.new_database())
    now = time.time()
    try:
        outcomes = await asyncio.gather(
            *(
                (first if i % 2 else second).write(
                    lambda tx: allow_confirmation_email(tx, LIMITS, "victim", now)
                )
                for i in range(40)
            )
        )
    finally:
        await first.close()
        await second.close()
    assert outcomes.count(True) == 1


async def test_one_contact_signed_up_on_two_instances_at_once_is_one_contact(postgres: Cluster) -> None:
    first, second = await _two_stores(postgres.new_database())
    now = time.time()

    def upsert(tx: object) -> int:
        from service.store import Transaction

        assert isinstance(tx, Transaction)
        found = tx.contact_by_email("news", "same@example.org")
        return found.id if found else tx.insert_contact("news", "same@example.org", None, None, "en", now)

    try:
        ids = await asyncio.gather(*((first if i % 2 else second).write(upsert) for i in range(20)))
    finally:
        await first.close()
        await second.close()
    assert len(set(ids)) == 1


async def test_two_batches_locking_in_opposite_orders_both_commit(postgres: Cluster) -> None:
    # Each batch's first operation takes one lock, its second the other's: a deadlock. The
    # loser's second operation used to be retried in place, where its batch still held the first
    # lock: the same deadlock five times (a second each, PostgreSQL's deadlock_timeout), then a
    # DeadlockDetected to the caller (a 500 for a signup). Now the loser's batch commits what
    # ran, and the operation runs again in the next batch, once the other has committed.
    import threading

    from service.store import Transaction

    first, second = await _two_stores(postgres.new_database())
    both_hold_one = threading.Barrier(2, timeout=10)

    def take(key: str, wait: bool) -> Callable[[Transaction], str]:
        def operation(tx: Transaction) -> str:
            tx.lock(key)
            if wait:
                both_hold_one.wait()
            return key

        return operation

    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                first.write(take("left", True)),
                first.write(take("right", False)),
                second.write(take("right", True)),
                second.write(take("left", False)),
            ),
            timeout=30,
        )
    finally:
        await first.close()
        await second.close()
    assert list(results) == ["left", "right", "right", "left"]
