"""Request-scoped dependencies: the use case context (session, clock, actor, principal)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request

from hexagone.api.routing import AGENT, PUBLIC
from hexagone.audit.service import Actor
from hexagone.authz.policy import RESTRICTED_ALLOWED
from hexagone.db.pagination import decode_cursor
from hexagone.errors import Forbidden, Unauthenticated
from hexagone.identity.auth import authenticate
from hexagone.usecase import UseCase


def _credential(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Send credentials as 'Authorization: Bearer <token or API key>'.")
        return value.strip()
    return request.headers.get("x-api-key") or request.headers.get("x-auth-token")


def build_use_case(request: Request, permission: str = "") -> UseCase:
    state = request.app.state
    client = request.client.host if request.client else ""
    actor = Actor(source_ip=client, request_id=getattr(request.state, "request_id", ""))
    uc = UseCase(
        session=request.state.session, now=state.clock.now(), settings=state.settings, hasher=state.hasher,
        actor=actor, permission=permission, admission=state.admission,
        extras={**state.extras, "shared": state.extras},
    )
    return uc


def throttle_auth(request: Request, account: str) -> None:
    """Count an authentication attempt (login, token, password or second-factor check) for the
    account it names; RateLimited (429 + Retry-After) over its rate. Call it first, before any
    password is hashed. (The source address was counted before the request took a thread: the
    endpoint is marked ``routing.auth_attempt``.)"""
    state = request.app.state
    state.admission.check_account(account, state.clock.now().timestamp())


def get_use_case(request: Request) -> UseCase:
    route = request.scope.get("route")
    permission = getattr(getattr(route, "endpoint", None), "__hexagone_permission__", None)
    if permission is None:
        raise RuntimeError(f"route {request.url.path} has no declared policy")
    uc = build_use_case(request, permission)
    if permission == PUBLIC:
        return uc
    if permission == AGENT:
        from hexagone.compute.hosts import authenticate_agent

        host = authenticate_agent(uc, _credential(request))
        uc.extras["host"] = host
        uc.actor.name = f"agent:{host.name}"
        return uc
    credential = _credential(request)
    if not credential:
        raise Unauthenticated("Authentication is required: log in (POST /v1/auth/login) or send an API key.")
    principal, token = authenticate(uc, credential)
    if principal.restricted and permission not in RESTRICTED_ALLOWED:  # lists never call authorize()
        raise Forbidden("Your account requires a second factor: enrol TOTP (POST /v1/auth/totp) first.")
    uc.principal = principal
    uc.extras["token"] = token
    uc.actor.user_id, uc.actor.name, uc.actor.org_id = principal.user_id, principal.name, principal.org_id
    uc.actor.api_key_id = principal.api_key_id
    request.state.principal = principal
    return uc


UC = Annotated[UseCase, Depends(get_use_case)]


CURSOR_HELP = "next_cursor of the previous page (a cursor the API did not return is 400)."


class Page:
    """Pagination query parameters (a plain value object: FastAPI builds it without a thread hop)."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
        cursor: Annotated[str | None, Query(min_length=1, max_length=200, description=CURSOR_HELP)] = None,
    ) -> None:
        if cursor is not None:
            decode_cursor(cursor)  # refuse a foreign cursor before any work (400)
        self.limit = limit
        self.cursor = cursor


async def _page(
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
    cursor: Annotated[str | None, Query(min_length=1, max_length=200, description=CURSOR_HELP)] = None,
) -> Page:
    return Page(limit, cursor)


PageQ = Annotated[Page, Depends(_page)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def page_body(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}
