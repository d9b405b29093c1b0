"""The FastAPI application factory. Knows routes and error mapping; gets its parts injected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from hexagone import __version__, openstack
from hexagone.admission.control import Admission
from hexagone.api import openapi, problems
from hexagone.api.health import HealthProbe
from hexagone.api.middleware import RequestContext
from hexagone.api.routes import audit, auth, billing, catalogue, compute, hosts, meta, orgs, regions, users
from hexagone.clock import Clock
from hexagone.compute.jobs import periodic
from hexagone.compute.notify import HostNotifier
from hexagone.db.base import Database
from hexagone.errors import HexagoneError
from hexagone.identity.credentials import Hasher
from hexagone.settings import Settings

#: PUT bodies streamed to disk by their handler, which enforces its own (larger) limit.
UPLOAD_PATHS = r"^/(v1/images|image/v2/images)/[^/]+/file$"

ROUTERS = [meta.router, auth.router, orgs.router, users.router, regions.router, audit.router,
           compute.router, hosts.router, hosts.agent_router, catalogue.router, *openstack.ROUTERS, billing.router]
#: Routers left out of /v1's OpenAPI document (the reasons: ``hexagone.api.openapi.EXCLUDED``).
UNDOCUMENTED = [hosts.agent_router]


def create_app(settings: Settings, db: Database, clock: Clock, hasher: Hasher,
               extras: dict[str, Any] | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(periodic(app.state)) if app.state.extras.get("periodic_jobs", True) else None
        yield
        if task is not None:
            task.cancel()
        app.state.health.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Hexagone API",
        version=__version__,
        description="Native REST API of Hexagone, the open-source sovereign cloud. Errors are RFC 9457 "
        "problem+json; lists are cursor-paginated; creates accept Idempotency-Key.",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        generate_unique_id_function=lambda route: route.name,  # operationId = the handler's name
    )
    app.state.settings = settings
    app.state.db = db
    app.state.clock = clock
    app.state.hasher = hasher
    app.state.admission = Admission.from_settings(settings)
    app.state.health = HealthProbe(db, settings.health_timeout_seconds)
    app.state.extras = {"notifier": HostNotifier(), **(extras or {})}
    for router in ROUTERS:
        app.include_router(router, include_in_schema=router not in UNDOCUMENTED)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    app.add_exception_handler(HexagoneError, problems.on_hexagone_error)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(StarletteHTTPException, problems.on_http_error)
    app.add_exception_handler(Exception, problems.on_unexpected)
    return app


def wrap(app: FastAPI, settings: Settings) -> ASGIApp:
    """The outermost layer: request ids and body limits apply before anything else."""
    return RequestContext(app, settings.max_body_bytes, large_body_paths=UPLOAD_PATHS)
