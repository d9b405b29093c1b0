"""``BoundedSlots``: at most ``slots`` holders at once, at most ``max_waiting`` threads waiting,
each for at most ``max_wait`` seconds. Used by the password hasher: argon2id takes 64 MiB and a
core for ~100 ms, so a login flood must be refused early (429 with ``Retry-After``) instead of
piling up threads, memory and latency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SlotsFull(Exception):
    """No slot within the wait, or the queue was already full. ``retry_after`` is a hint (s)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("all slots are busy")
        self.retry_after = retry_after


class BoundedSlots:
    def __init__(self, slots: int, max_waiting: int, max_wait: float) -> None:
        self.slots = max(1, slots)
        self.max_waiting = max(0, max_waiting)
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._busy = 0
        self._waiting = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        with self._cond:
            if self._busy < self.slots:
                self._busy += 1
                return
            if self._waiting >= self.max_waiting:
                raise SlotsFull(max(1.0, self.max_wait))
            self._waiting += 1
            try:
                if not self._cond.wait_for(lambda: self._busy < self.slots, timeout=self.max_wait):
                    raise SlotsFull(max(1.0, self.max_wait))
                self._busy += 1
            finally:
                self._waiting -= 1

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify()

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return self._waiting
