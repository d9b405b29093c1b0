"""Unauthenticated service information."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import Request
from sqlalchemy import text

from hexagone import __version__
from hexagone.api.deps import UC
from hexagone.api.problems import as_unavailable
from hexagone.api.routing import PUBLIC, endpoint, new_router
from hexagone.api.schemas.identity import Health
from hexagone.errors import Unavailable

router = new_router("/v1", "meta")

#: Below this much free space on the data directory's filesystem, health says the disk is full.
DISK_MIN_FREE_BYTES = 1 << 20


@endpoint(router, "GET", "/health", permission=PUBLIC, response_model=Health)
def health(uc: UC, request: Request) -> dict[str, Any]:
    """Liveness and the state of each dependency (database, data disk). 503 with ``Retry-After``
    and ``dependency`` naming the first one down when any is."""
    checks: dict[str, str] = {}
    down: list[Unavailable] = []
    try:
        uc.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        unavailable = as_unavailable(exc)
        if unavailable is None:
            raise
        checks["database"] = "down"
        down.append(unavailable)
    try:
        free = shutil.disk_usage(uc.settings.data_dir).free
        checks["disk"] = "ok" if free >= DISK_MIN_FREE_BYTES else "full"
    except OSError:
        free, checks["disk"] = 0, "down"
    if checks["disk"] != "ok":
        cause = f"The data disk is {checks['disk']} ({free} bytes free on {uc.settings.data_dir})"
        down.append(Unavailable(cause, retry_after=30, dependency="disk", cause=cause))
    if down:
        causes = "; ".join(f"{d.dependency}: {d.extra.get('cause', d.message)}" for d in down)
        raise Unavailable(f"This region cannot serve right now ({causes}). Retry later.",
                          retry_after=max(d.retry_after for d in down), dependency=down[0].dependency, checks=checks)
    return {"status": "ok", "version": __version__, "region": request.app.state.settings.region, "checks": checks}
