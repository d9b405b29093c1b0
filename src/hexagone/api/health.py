"""The database probe of ``/v1/health``, kept apart from the request machinery so that a busy
process still answers it: its own thread (never the request thread pool), one probe in flight that
concurrent health requests share, and a bounded wait. A success is remembered for ``FRESH``
seconds: a load balancer polling several times a second gets the answer from memory, without a
thread hop (which, under CPU-bound load, costs a wait for the interpreter lock)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

from sqlalchemy import text

from hexagone.db.base import Database

FRESH = 1.0


class HealthProbe:
    def __init__(self, db: Database, timeout: float) -> None:
        self.db = db
        self.timeout = timeout
        self._ok_at = -FRESH
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hexagone-health")
        self._inflight: asyncio.Future[None] | None = None

    def _select_one(self) -> None:
        with self.db.read() as session:  # a deferred read on SQLite: never the write lock
            session.execute(text("SELECT 1"))

    async def check(self) -> BaseException | None:
        """None when the database answered ``SELECT 1`` in time; otherwise the failure (a
        ``TimeoutError`` when it did not answer within ``timeout``)."""
        if time.monotonic() - self._ok_at < FRESH:
            return None
        if self._inflight is None or self._inflight.done():
            loop = asyncio.get_running_loop()
            self._inflight = loop.run_in_executor(self._executor, self._select_one)
        try:
            await asyncio.wait_for(asyncio.shield(self._inflight), self.timeout)
        except TimeoutError as exc:
            return exc
        except Exception as exc:  # the probe's whole point is to report it
            return exc
        self._ok_at = time.monotonic()
        return None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
