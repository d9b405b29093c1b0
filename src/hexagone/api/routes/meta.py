"""Unauthenticated service information."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import text

from hexagone import __version__
from hexagone.api.deps import UC
from hexagone.api.routing import PUBLIC, endpoint, new_router
from hexagone.api.schemas.identity import Health

router = new_router("/v1", "meta")


@endpoint(router, "GET", "/health", permission=PUBLIC, response_model=Health)
def health(uc: UC, request: Request) -> dict[str, Any]:
    """Liveness and database reachability."""
    uc.session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "region": request.app.state.settings.region}
