"""Rate limits and the failed-login tally. Pure: the caller passes the time (seconds, from the
injected clock), so tests move time instead of sleeping.

``RateLimiter`` is the contract; ``MemoryRateLimiter`` is the one-process implementation. A region
of several API processes needs one shared count: a ``PostgresRateLimiter`` would keep the same
bucket in a table (``rate_buckets(key text primary key, tokens float8, at timestamptz)``) and take
a token with one statement, ``INSERT ... ON CONFLICT (key) DO UPDATE SET tokens = least(limit,
tokens + refill) - 1 ... WHERE tokens + refill >= 1 RETURNING tokens``, using the database's
clock; nothing else would change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` attempts per ``window`` seconds (a bucket of ``limit`` tokens refilled
    continuously at ``limit / window`` per second). ``limit`` 0 means unlimited."""

    limit: int
    window: float


class RateLimiter(Protocol):
    """Counts attempts per key (a source address, an account) against one ``Rate``.

    Thread-safe. Memory (or rows) stays bounded whatever keys the clients make up: a key whose
    bucket is full again carries no information and may be forgotten at any time."""

    def take(self, key: str, now: float) -> float:
        """Count one attempt for ``key`` at ``now``. Returns 0.0 when it is admitted, otherwise
        the seconds until the next attempt would be (and counts nothing)."""
        ...


class MemoryRateLimiter:
    """Token buckets in a dictionary, for one process. At most ``max_keys`` buckets: beyond that
    the full ones are dropped first, then the oldest (which then start full: a client that makes
    up more than ``max_keys`` keys per window can get a little more than its rate, never more work
    than ``max_keys`` buckets of memory)."""

    def __init__(self, rate: Rate, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> float:
        limit, window = self.rate.limit, self.rate.window
        if limit <= 0:
            return 0.0
        per_second = limit / window
        with self._lock:
            tokens, at = self._buckets.get(key, (float(limit), now))
            tokens = min(float(limit), tokens + max(0.0, now - at) * per_second)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / per_second
            self._buckets[key] = (tokens - 1.0, now)
            self._buckets.move_to_end(key)
            if len(self._buckets) > self.max_keys:
                self._shrink(now, per_second)
            return 0.0

    def _shrink(self, now: float, per_second: float) -> None:
        limit = float(self.rate.limit)
        for key in [k for k, (t, at) in self._buckets.items() if t + (now - at) * per_second >= limit]:
            del self._buckets[key]
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True)
class Summary:
    """``count`` failures from ``source`` between ``since`` and ``until`` that were counted, not
    recorded one by one."""

    source: str
    count: int
    since: float
    until: float


class FailureTally:
    """Aggregates failures (logins for unknown names) per source and window, so an anonymous
    client cannot grow the audit trail without bound: the first failure of a source in a window is
    recorded (``note`` returns True), the following ones are only counted, and once the window is
    over the count comes back from ``note`` (on any later call) as a ``Summary`` to record.

    So a source writes at most two records per window, and at most ``max_sources`` sources are
    tracked at once: beyond them, new sources are counted together under ``"*"``. Counts still in
    memory when the process stops are lost (at most one window per source)."""

    OTHERS = "*"

    def __init__(self, window: float, max_sources: int = 10_000) -> None:
        self.window = window
        self.max_sources = max_sources
        self._open: OrderedDict[str, list[float]] = OrderedDict()  # source -> [since, count], oldest first
        self._lock = threading.Lock()

    def note(self, source: str, now: float) -> tuple[bool, list[Summary]]:
        """Count one failure from ``source``: (record this one?, summaries of closed windows)."""
        with self._lock:
            closed = self._close(now)
            if source not in self._open and len(self._open) >= self.max_sources:
                source = self.OTHERS
            entry = self._open.get(source)
            if entry is None:
                self._open[source] = [now, 0]
                return True, closed
            entry[1] += 1
            return False, closed

    def _close(self, now: float) -> list[Summary]:
        closed: list[Summary] = []
        while self._open:
            source, (since, count) = next(iter(self._open.items()))
            if now - since < self.window:
                break
            del self._open[source]
            if count:
                closed.append(Summary(source, int(count), since, since + self.window))
        return closed
