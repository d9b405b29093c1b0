"""Wakes agents' long-polls when their host's desired state changes (in this process; other
worker processes are caught by the periodic revision check of the long-poll)."""

from __future__ import annotations

import asyncio
import threading


class HostNotifier:
    def __init__(self) -> None:
        self._events: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()

    def notify(self, host_id: str) -> None:
        with self._lock:
            waiters = list(self._events.get(host_id, ()))
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def subscribe(self, host_id: str) -> asyncio.Event:
        """Register a waiter *before* reading the revision, so a change committed in between is
        not missed."""
        event = asyncio.Event()
        with self._lock:
            self._events.setdefault(host_id, set()).add((asyncio.get_running_loop(), event))
        return event

    def unsubscribe(self, host_id: str, event: asyncio.Event) -> None:
        with self._lock:
            bucket = self._events.get(host_id)
            if bucket is not None:
                bucket.discard((asyncio.get_running_loop(), event))
                if not bucket:
                    self._events.pop(host_id, None)

    async def wait(self, host_id: str, timeout: float) -> bool:
        event = self.subscribe(host_id)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.unsubscribe(host_id, event)


def after_commit(session, callback) -> None:  # type: ignore[no-untyped-def]
    """Run ``callback`` once the request's transaction has committed."""
    session.info.setdefault("after_commit", []).append(callback)
