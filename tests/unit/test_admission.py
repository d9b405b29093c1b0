"""The pure parts of admission control: token buckets, the failure tally, bounded slots."""

from __future__ import annotations

import threading
import time

import pytest

from hexagone.admission.limits import FailureTally, MemoryRateLimiter, Rate
from hexagone.admission.slots import BoundedSlots, SlotsFull


def test_bucket_admits_its_limit_then_says_how_long_to_wait() -> None:
    limiter = MemoryRateLimiter(Rate(3, 60))
    assert [limiter.take("k", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("k", 0.0)
    assert wait == pytest.approx(20.0)  # one token per 20 s
    assert limiter.take("k", 19.0) > 0
    assert limiter.take("k", 20.5) == 0.0
    assert limiter.take("other", 0.0) == 0.0


def test_unlimited_rate_admits_everything() -> None:
    limiter = MemoryRateLimiter(Rate(0, 60))
    assert all(limiter.take("k", 0.0) == 0.0 for _ in range(1000))


def test_bucket_memory_is_bounded_whatever_keys_clients_invent() -> None:
    limiter = MemoryRateLimiter(Rate(5, 60), max_keys=100)
    for i in range(10_000):
        limiter.take(f"key-{i}", float(i) / 1000)
    assert len(limiter) <= 100


def test_tally_records_the_first_failure_then_counts_and_summarises() -> None:
    tally = FailureTally(window=60)
    assert tally.note("a", 0.0) == (True, [])
    assert all(tally.note("a", float(t)) == (False, []) for t in range(1, 50))
    record, closed = tally.note("b", 61.0)
    assert record
    assert [(s.source, s.count) for s in closed] == [("a", 49)]
    assert tally.note("a", 62.0) == (True, [])


def test_tally_tracks_a_bounded_number_of_sources() -> None:
    tally = FailureTally(window=60, max_sources=10)
    records = sum(tally.note(f"10.0.0.{i}", 0.0)[0] for i in range(200))
    assert records == 11  # ten sources, then everyone else under "*"


def test_slots_refuse_at_once_when_the_queue_is_full_and_after_the_wait() -> None:
    slots = BoundedSlots(1, max_waiting=1, max_wait=0.5)
    slots.acquire()
    errors: list[BaseException] = []
    waiter = threading.Thread(target=lambda: _try(slots, errors))
    waiter.start()
    deadline = time.monotonic() + 5
    while slots.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(SlotsFull):  # the one queue place is taken
        slots.acquire()
    waiter.join(5)
    assert len(errors) == 1 and isinstance(errors[0], SlotsFull)  # the waiter gave up after max_wait
    slots.release()
    with slots.hold():
        assert slots.busy == 1


def _try(slots: BoundedSlots, errors: list[BaseException]) -> None:
    try:
        slots.acquire()
    except SlotsFull as exc:
        errors.append(exc)
