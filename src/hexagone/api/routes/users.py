"""/v1/users, /v1/role-grants, /v1/api-keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from hexagone.api.deps import UC, IdemKey, PageQ, page_body
from hexagone.api.idempotency import run_create
from hexagone.api.routing import endpoint, new_router
from hexagone.api.schemas import ApiKeyIn, GrantIn, UserIn, UserPatch, apikey_out, grant_out, user_out
from hexagone.api.schemas.identity import ApiKeyCreated, ApiKeyPage, GrantOut, GrantPage, UserOut, UserPage
from hexagone.identity import auth, users

router = new_router("/v1", "users")


@endpoint(router, "POST", "/users", permission="user.create", status_code=201, response_model=UserOut)
def create_user(body: UserIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Create a user in an organisation, optionally with roles on that organisation."""
    return run_create(uc, idem, "POST", request.url.path, body.model_dump(exclude={"password"}),
                      lambda: user_out(users.create_user(uc, body.org_id, body.name, body.password, body.email,
                                                         list(body.roles))))


@endpoint(router, "GET", "/users", permission="user.read", response_model=UserPage)
def list_users(
    uc: UC, page: PageQ,
    org_id: Annotated[str | None, Query(max_length=36)] = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    items, cursor = users.list_users(uc, page.limit, page.cursor, {"org_id": org_id, "name": name})
    return page_body([user_out(u) for u in items], cursor)


@endpoint(router, "GET", "/users/{user_id}", permission="user.read", response_model=UserOut)
def get_user(user_id: str, uc: UC) -> dict[str, Any]:
    return user_out(users.get_user(uc, user_id))


@endpoint(router, "PATCH", "/users/{user_id}", permission="user.update", response_model=UserOut)
def update_user(user_id: str, body: UserPatch, uc: UC) -> dict[str, Any]:
    """Change e-mail, enable/disable, reset the password or the second factor (both revoke tokens), unlock.

    Acting on another user needs every permission it holds."""
    return user_out(users.update_user(uc, user_id, body.model_dump(exclude_unset=True)))


@endpoint(router, "DELETE", "/users/{user_id}", permission="user.delete", status_code=204)
def delete_user(user_id: str, uc: UC) -> None:
    users.delete_user(uc, user_id)


@endpoint(router, "POST", "/role-grants", permission="role.grant", status_code=201, response_model=GrantOut)
def grant(body: GrantIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    return run_create(uc, idem, "POST", request.url.path, body,
                      lambda: grant_out(users.grant_role(uc, body.user_id, body.role, body.scope_type, body.scope_id)))


@endpoint(router, "GET", "/role-grants", permission="role.read", response_model=GrantPage)
def list_grants(
    uc: UC, page: PageQ,
    user_id: Annotated[str | None, Query(max_length=36)] = None,
    scope_id: Annotated[str | None, Query(max_length=36)] = None,
) -> dict[str, Any]:
    items, cursor = users.list_grants(uc, page.limit, page.cursor, {"user_id": user_id, "scope_id": scope_id})
    return page_body([grant_out(g) for g in items], cursor)


@endpoint(router, "DELETE", "/role-grants/{grant_id}", permission="role.revoke", status_code=204)
def revoke(grant_id: str, uc: UC) -> None:
    users.revoke_grant(uc, grant_id)


@endpoint(router, "POST", "/api-keys", permission="apikey.create", status_code=201,
          response_model=ApiKeyCreated)
def create_key(body: ApiKeyIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Create an API key; its secret is in this response only (an idempotent replay withholds it)."""

    def create() -> dict[str, Any]:
        key, secret = auth.create_api_key(uc, body.name, body.scope_type, body.scope_id, body.role, body.expires_at)
        return {**apikey_out(key), "secret": secret}

    return run_create(uc, idem, "POST", request.url.path, body, create, secret_fields=("secret",))


@endpoint(router, "GET", "/api-keys", permission="apikey.read", response_model=ApiKeyPage)
def list_keys(uc: UC, page: PageQ) -> dict[str, Any]:
    items, cursor = auth.list_api_keys(uc, page.limit, page.cursor)
    return page_body([apikey_out(k) for k in items], cursor)


@endpoint(router, "DELETE", "/api-keys/{key_id}", permission="apikey.delete", status_code=204)
def revoke_key(key_id: str, uc: UC) -> None:
    auth.revoke_api_key(uc, key_id)
