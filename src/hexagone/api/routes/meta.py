"""Unauthenticated service information."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hexagone import __version__
from hexagone.api.problems import problem
from hexagone.api.routing import PUBLIC, endpoint

#: not a TransactionalRoute: health takes no session, no worker thread and no admission slot
router = APIRouter(prefix="/v1", tags=["meta"])


@endpoint(router, "GET", "/health", permission=PUBLIC, response_model=dict[str, Any])
async def health(request: Request) -> Any:
    """Liveness and database reachability, answered on the event loop with a bounded database
    probe of its own (503 with Retry-After when the database does not answer)."""
    state = request.app.state
    failure = await state.health.check()
    if failure is not None:
        response: JSONResponse = problem(request, 503, "Temporarily unavailable", failure, "unavailable",
                                         checks={"database": "down"})
        response.headers["Retry-After"] = "1"
        return response
    return {"status": "ok", "version": __version__, "region": state.settings.region,
            "checks": {"database": "ok"}}
