"""``Gate``: how many requests one principal may have in flight, and how many heavy ones (list
pages, exports) the process runs at once. Runs on the event loop, before the request takes a
worker thread, so what it refuses costs nothing but the refusal.

Why: heavy handlers are CPU-bound Python (reading rows, building the page) and share one GIL; 16
of them at once gave every other request, ``/v1/health`` included, a wait of about a second for
the interpreter. Admitting two at a time and refusing a principal's excess keeps the others' share.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from hexagone.errors import RateLimited, TemporaryError


class Gate:
    """``per_key``: requests in flight per principal (or per source, for anonymous requests);
    ``heavy_per_key``: heavy requests in flight per principal; ``heavy_slots``: heavy requests the
    process runs at once, the others wait for a slot up to ``queue_seconds`` (then 503). Counters are
    touched only on the event loop: no lock."""

    def __init__(self, per_key: int, heavy_per_key: int, heavy_slots: int, queue_seconds: float,
                 refusal_delay: float = 0.0) -> None:
        self.per_key = per_key
        self.refusal_delay = refusal_delay
        self.heavy_per_key = heavy_per_key
        self.heavy_slots = max(1, heavy_slots)
        self.queue_seconds = queue_seconds
        self._inflight: dict[str, int] = {}
        self._heavy: dict[str, int] = {}
        self._slots: asyncio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def admit(self, key: str, heavy: bool) -> AsyncIterator[None]:
        n = self._inflight.get(key, 0)
        if self.per_key and n >= self.per_key:
            await self.refuse(RateLimited(
                f"You already have {n} requests in progress; wait for them to finish.", retry_after=1))
        h = self._heavy.get(key, 0)
        if heavy and self.heavy_per_key and h >= self.heavy_per_key:
            await self.refuse(RateLimited(
                f"You already have {h} list or export requests in progress; wait for them to finish "
                "(fetch pages one after the other).",
                retry_after=1,
            ))
        self._inflight[key] = n + 1
        if heavy:
            self._heavy[key] = h + 1
        try:
            if heavy:
                async with self._slot():
                    yield
            else:
                yield
        finally:
            self._decrement(self._inflight, key)
            if heavy:
                self._decrement(self._heavy, key)

    async def refuse(self, error: RateLimited) -> None:
        """Raise ``error`` after the refusal delay: a client that retries at once, ignoring
        Retry-After, then costs one coroutine per connection, not a stream of refusals."""
        if self.refusal_delay > 0:
            await asyncio.sleep(min(self.refusal_delay, error.retry_after))
        raise error

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.heavy_slots)
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_seconds)
        except TimeoutError:
            raise TemporaryError(
                f"The server is busy with other lists and exports (waited {self.queue_seconds:g} s); retry shortly.",
                delay=1,
            ) from None
        try:
            yield
        finally:
            self._slots.release()

    @staticmethod
    def _decrement(counts: dict[str, int], key: str) -> None:
        left = counts.get(key, 1) - 1
        if left <= 0:
            counts.pop(key, None)
        else:
            counts[key] = left

    def in_flight(self, key: str) -> int:
        return self._inflight.get(key, 0)
