"""Every endpoint declares its policy here, and every request runs in one transaction.

``endpoint(router, "GET", "/path", permission="org.read")`` registers the route and records its
permission in ``POLICIES``; a test fails if any route of the app is missing from it. The
``TransactionalRoute`` first admits the request (``hexagone.admission.gate``: the principal's
requests in flight, and a slot for heavy ones — list pages and exports), then opens the request's
session, commits it after the handler returned a success (or a handled failure that must be kept,
such as a failed login's audit record) and before the response leaves, and rolls it back on any
error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant, get_flat_params
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from hexagone.api.schemas.common import Problem

PUBLIC = "public"
AGENT = "agent"  # authenticated by a host credential, not a user
POLICIES: dict[tuple[str, str], str] = {}
PROBLEM_MEDIA_TYPE = "application/problem+json"

#: status -> when a route answers it (the description each operation of the document carries).
ERROR_DESCRIPTIONS = {
    400: "Invalid input: a rule the schema cannot state (bad cursor, weak password, invalid SIREN, "
         "unknown filter value), or malformed JSON.",
    401: "No, wrong, expired or revoked credentials (or a second factor is required).",
    403: "Visible but not allowed for your roles, over quota, or a restricted token.",
    404: "Missing, or not yours (the same answer).",
    409: "Conflict: name taken, wrong state, no valid host, Idempotency-Key reused for another request.",
    413: "Request body over the size limit.",
    422: "The request does not match the schema; `errors` lists each offending field.",
    429: "Too many requests: slow down and retry after the Retry-After delay.",
    503: "Temporarily unavailable (a backend or the database is busy or down): retry later.",
}


def _finish(session: Any, commit: bool) -> None:
    """Commit (then run after-commit callbacks) or roll back, and close: one thread hop."""
    try:
        if commit:
            session.commit()
            for callback in session.info.pop("after_commit", []):
                callback()
        else:
            session.rollback()
    finally:
        session.close()


#: query parameters that make a route a list page (native cursors, OpenStack markers)
PAGING = frozenset({"cursor", "marker"})


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def is_heavy(route: APIRoute) -> bool:
    """List pages and exports: the requests whose cost grows with the data."""
    return bool(_query_names(route.dependant) & PAGING) or route.path.endswith("/export")


def admission_key(request: Request) -> str:
    """Whose request this is, before authentication: its credential (hashed, in memory only), or
    its source address when it has none."""
    headers = request.headers
    credential = headers.get("authorization") or headers.get("x-api-key") or headers.get("x-auth-token")
    if credential:
        return f"credential:{hash(credential)}"
    return "source:" + (request.client.host if request.client else "")


def auth_attempt(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an endpoint as an authentication attempt (place it below ``@endpoint``): its source
    address takes a token from the authentication rate limit before the request takes a thread;
    the handler then calls ``api.deps.throttle_auth`` with the account it names."""
    fn.__hexagone_auth__ = True  # type: ignore[attr-defined]
    return fn


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = self._transactional(super().get_route_handler())
        heavy = is_heavy(self)
        auth = getattr(self.endpoint, "__hexagone_auth__", False)

        async def handler(request: Request) -> Response:
            state = request.app.state
            admission = state.admission
            if not admission.enabled:
                return await inner(request)
            if auth:
                source = request.client.host if request.client else ""
                refused = admission.check_source(source, state.clock.now().timestamp())
                if refused is not None:
                    await admission.gate.refuse(refused)
            async with admission.gate.admit(admission_key(request), heavy):
                return await inner(request)

        return handler

    @staticmethod
    def _transactional(
        original: Callable[[Request], Coroutine[Any, Any, Response]],
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def handler(request: Request) -> Response:
            db = request.app.state.db
            write = request.method not in ("GET", "HEAD", "OPTIONS")
            session = db.session(write=write)
            request.state.session = session
            try:
                response = await original(request)
            except BaseException:
                await run_in_threadpool(_finish, session, False)
                raise
            keep = write and (response.status_code < 400 or getattr(request.state, "commit_anyway", False))
            await run_in_threadpool(_finish, session, keep)
            return response

        return handler


def new_router(prefix: str, tag: str) -> APIRouter:
    return APIRouter(prefix=prefix, tags=[tag], route_class=TransactionalRoute)


def flat_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of an app, routers included (FastAPI keeps included routers as one entry each;
    their effective routes carry the full path, methods, endpoint, response model, include_in_schema)."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            yield from flat_routes(candidates())
        else:
            yield route


def _has_body(dependant: Dependant) -> bool:
    return bool(dependant.body_params) or any(_has_body(d) for d in dependant.dependencies)


def error_statuses(method: str, path: str, fn: Callable[..., Any], permission: str) -> set[int]:
    """Every problem status a route can answer, derived from its method, parameters and permission
    (``endpoint`` declares them all in the OpenAPI document, with the one Problem schema).

    Any route: 400 (rules beyond the schema, malformed JSON, NUL in the address), 409 (the target's
    state: an image without data to download), 429 (rate limits and admission) and 503 (transient
    outage). Authenticated: 401, 403, 404 (agents: 401, 404). With parameters or a body: 422.
    Writes: 413.
    """
    statuses = {400, 409, 429, 503}
    if permission != PUBLIC:
        statuses |= {401, 404} | ({403} if permission != AGENT else set())
    dependant = get_dependant(path=path, call=fn)
    if get_flat_params(dependant) or _has_body(dependant):
        statuses.add(422)
    if method not in ("GET", "HEAD", "OPTIONS"):
        statuses.add(413)
    return statuses


def endpoint(
    router: APIRouter, method: str, path: str, *, permission: str, status_code: int = 200,
    errors: Iterable[int] = (), produces: dict[str, dict[str, Any]] | None = None, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route with its permission (``PUBLIC`` for unauthenticated endpoints).

    Pass ``response_model=`` (every JSON answer has one; 204 answers none), ``produces={media type:
    schema}`` for bodies that are not JSON (or not only JSON), and ``errors=`` for problem statuses
    beyond those derived by ``error_statuses`` (such as 401 from a public login).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        POLICIES[(method, router.prefix + path)] = permission
        fn.__hexagone_permission__ = permission  # type: ignore[attr-defined]
        responses: dict[int | str, dict[str, Any]] = dict(kwargs.pop("responses", {}))
        if produces:
            success = responses.setdefault(status_code, {})
            success.setdefault("content", {}).update({media: {"schema": schema} for media, schema in produces.items()})
        for status in sorted(error_statuses(method, router.prefix + path, fn, permission) | set(errors)):
            responses.setdefault(status, {"description": ERROR_DESCRIPTIONS[status], "model": Problem})
        router.add_api_route(path, fn, methods=[method], status_code=status_code, responses=responses, **kwargs)
        return fn

    return decorate
