"""Periodic control-plane jobs: mark silent hosts down, fail builds that never finished."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool

from hexagone.audit.service import Actor
from hexagone.compute import hosts
from hexagone.usecase import UseCase

log = logging.getLogger("hexagone.jobs")


def run_once(app_state) -> None:  # type: ignore[no-untyped-def]
    s = app_state.settings
    with app_state.db.write() as session:
        uc = UseCase(session=session, now=app_state.clock.now(), settings=s, hasher=app_state.hasher,
                     actor=Actor(name="control-plane"), extras=dict(getattr(app_state, "extras", {})))
        down = hosts.mark_down(uc, s.heartbeat_grace_seconds)
        failed = hosts.fail_stuck_builds(uc, s.build_timeout_seconds)
    if down or failed:
        log.warning("periodic: %d host(s) marked down, %d build(s) failed", len(down), failed)


def run_billing(app_state) -> None:  # type: ignore[no-untyped-def]
    """Budget thresholds, metering reconciliation and storage samples (slower cadence). Closing a billing period
    stays an explicit operator action (``POST /v1/billing/periods/{month}/close``)."""
    from hexagone.billing import budgets, metering

    with app_state.db.write() as session:
        uc = UseCase(session=session, now=app_state.clock.now(), settings=app_state.settings,
                     hasher=app_state.hasher, actor=Actor(name="control-plane"),
                     extras=dict(getattr(app_state, "extras", {})))
        corrections = metering.reconcile(uc)
        metering.sample_storage(uc)
        events = budgets.evaluate(uc)
    if corrections or events:
        log.warning("periodic: %d metering correction(s), %d budget event(s)", len(corrections), len(events))


async def periodic(app_state, interval: float = 10.0, billing_every: int = 30) -> None:  # type: ignore[no-untyped-def]
    rounds = 0
    while True:
        await asyncio.sleep(interval)
        rounds += 1
        try:
            await run_in_threadpool(run_once, app_state)
            if rounds % billing_every == 0:
                await run_in_threadpool(run_billing, app_state)
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError) as exc:
            # an outage (database lost, disk full): one line, no traceback; the next round retries
            log.warning("periodic job skipped, a dependency is unavailable (%s)", type(exc).__name__)
        except Exception:  # keep the loop alive; the next round retries
            log.exception("periodic job failed")
