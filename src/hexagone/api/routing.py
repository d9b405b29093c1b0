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

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

PUBLIC = "public"
AGENT = "agent"  # authenticated by a host credential, not a user
POLICIES: dict[tuple[str, str], str] = {}


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


def endpoint(
    router: APIRouter, method: str, path: str, *, permission: str, status_code: int = 200, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route with its permission (``PUBLIC`` for unauthenticated endpoints)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        POLICIES[(method, router.prefix + path)] = permission
        fn.__hexagone_permission__ = permission  # type: ignore[attr-defined]
        router.add_api_route(path, fn, methods=[method], status_code=status_code, **kwargs)
        return fn

    return decorate
