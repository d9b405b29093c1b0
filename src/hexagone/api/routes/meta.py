"""Unauthenticated service information."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter, Request

from hexagone import __version__
from hexagone.api.problems import as_unavailable
from hexagone.api.routing import PUBLIC, endpoint
from hexagone.api.schemas.identity import Health
from hexagone.errors import Unavailable

#: not a TransactionalRoute: health takes no session, no worker thread and no admission slot
router = APIRouter(prefix="/v1", tags=["meta"])

#: Below this much free space on the data directory's filesystem, health says the disk is full.
DISK_MIN_FREE_BYTES = 1 << 20


@endpoint(router, "GET", "/health", permission=PUBLIC, response_model=Health)
async def health(request: Request) -> Any:
    """Liveness and the state of each dependency (database, data disk). 503 with ``Retry-After``
    and ``dependency`` naming the first one down when any is. Answered on the event loop; the
    database probe has its own thread and a bounded wait (``health_timeout_seconds``)."""
    state = request.app.state
    settings = state.settings
    checks: dict[str, str] = {}
    down: list[Unavailable] = []
    failure = await state.health.check()
    if failure is None:
        checks["database"] = "ok"
    else:
        checks["database"] = "down"
        unavailable = as_unavailable(failure)
        if isinstance(failure, TimeoutError) or unavailable is None:
            cause = f"The database did not answer within {state.health.timeout:g} s" if isinstance(
                failure, TimeoutError) else f"The database cannot be reached ({type(failure).__name__})"
            unavailable = Unavailable(cause, retry_after=2, dependency="database", cause=cause)
        down.append(unavailable)
    try:
        free = shutil.disk_usage(settings.data_dir).free
        checks["disk"] = "ok" if free >= DISK_MIN_FREE_BYTES else "full"
    except OSError:
        free, checks["disk"] = 0, "down"
    if checks["disk"] != "ok":
        cause = f"The data disk is {checks['disk']} ({free} bytes free on {settings.data_dir})"
        down.append(Unavailable(cause, retry_after=30, dependency="disk", cause=cause))
    if down:
        causes = "; ".join(f"{d.dependency}: {d.extra.get('cause', d.message)}" for d in down)
        raise Unavailable(f"This region cannot serve right now ({causes}). Retry later.",
                          retry_after=max(d.retry_after for d in down), dependency=down[0].dependency, checks=checks)
    return {"status": "ok", "version": __version__, "region": settings.region, "checks": checks}
