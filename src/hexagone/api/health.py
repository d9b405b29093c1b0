"""The database probe of ``/v1/health``, kept apart from the request machinery so that a busy
process still answers it: its own engine (one connection), its own thread, one probe in flight
that concurrent health requests share, and a bounded wait. It never queues behind the request
thread pool, the main connection pool or a heavy handler. A success is remembered for ``FRESH``
seconds: a load balancer polling several times a second gets the answer from memory, without a
thread hop (which, under CPU-bound load, costs a wait for the interpreter lock)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from hexagone.db.base import Database, make_engine

FRESH = 1.0


class HealthProbe:
    def __init__(self, db: Database, timeout: float) -> None:
        self.db = db
        self.timeout = timeout
        self._ok_at = -FRESH
        self._engine: Engine | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hexagone-health")
        self._inflight: asyncio.Future[None] | None = None

    def _engine_once(self) -> Engine:
        if self._engine is None:
            url = self.db.url
            kwargs: dict[str, Any] = {"pool_size": 1, "max_overflow": 0}
            if not url.startswith("sqlite"):
                kwargs["pool_pre_ping"] = True
            engine = make_engine(url, **kwargs)
            if url.startswith("sqlite"):  # a deferred read, never the write lock
                engine = engine.execution_options(sqlite_begin="DEFERRED")
            self._engine = engine
        return self._engine

    def _select_one(self) -> None:
        with self._engine_once().connect() as conn:
            conn.execute(text("SELECT 1"))

    async def check(self) -> str | None:
        """None when the database answered ``SELECT 1`` in time; otherwise a sentence saying why not."""
        if time.monotonic() - self._ok_at < FRESH:
            return None
        if self._inflight is None or self._inflight.done():
            loop = asyncio.get_running_loop()
            self._inflight = loop.run_in_executor(self._executor, self._select_one)
        try:
            await asyncio.wait_for(asyncio.shield(self._inflight), self.timeout)
        except TimeoutError:
            return f"The database did not answer within {self.timeout:g} s."
        except Exception as exc:  # the probe's whole point is to report it
            return f"The database is unreachable ({type(exc).__name__})."
        self._ok_at = time.monotonic()
        return None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._engine is not None:
            self._engine.dispose()
