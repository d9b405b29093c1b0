"""Keystone v3 (``/identity``): version discovery, tokens, the catalogue, the projects one may scope to."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Request, Response
from fastapi.responses import JSONResponse

from hexagone.api.deps import UC, throttle_auth
from hexagone.api.routing import PUBLIC, auth_attempt, endpoint
from hexagone.errors import Forbidden, Unauthenticated
from hexagone.identity import orgs
from hexagone.openstack import errors, tokens
from hexagone.openstack.catalog import base_url, catalog
from hexagone.openstack.routing import KeystoneRoute, new_router

router = new_router("/identity", "openstack-identity", KeystoneRoute)
MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def _v3(request: Request) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base_url(request)}/identity/v3/"}],
        "media-types": MEDIA,
    }


@endpoint(router, "GET", "", permission=PUBLIC)
def versions(request: Request) -> JSONResponse:
    """Version discovery: 300 Multiple Choices listing v3."""
    return JSONResponse({"versions": {"values": [_v3(request)]}}, status_code=300)


@endpoint(router, "GET", "/", permission=PUBLIC)
def versions_slash(request: Request) -> JSONResponse:
    return JSONResponse({"versions": {"values": [_v3(request)]}}, status_code=300)


@endpoint(router, "GET", "/v3", permission=PUBLIC)
def version_v3(request: Request) -> dict[str, Any]:
    return {"version": _v3(request)}


@endpoint(router, "GET", "/v3/", permission=PUBLIC)
def version_v3_slash(request: Request) -> dict[str, Any]:
    return {"version": _v3(request)}


def account_named(body: Any, receipt: str | None) -> str:
    """The account a ``POST /v3/auth/tokens`` names, for its rate limit: the password user's name
    (or ``id:`` its id), else the receipt's user (``id:``), else "" (token method: no account)."""
    auth = body.get("auth") if isinstance(body, dict) else None
    identity = auth.get("identity") if isinstance(auth, dict) else None
    password = identity.get("password") if isinstance(identity, dict) else None
    user = password.get("user") if isinstance(password, dict) else None
    if isinstance(user, dict):
        if isinstance(user.get("name"), str):
            return str(user["name"])
        if isinstance(user.get("id"), str):
            return "id:" + str(user["id"])
    if receipt:
        return "id:" + receipt.partition(".")[0]
    return ""


@endpoint(router, "POST", "/v3/auth/tokens", permission=PUBLIC, status_code=201)
@auth_attempt
def create_token(uc: UC, request: Request, body: dict[str, Any] = Body(...)) -> JSONResponse:
    """Password (optionally + TOTP), receipt + TOTP, or token authentication, unscoped or scoped to
    a project. The token is in ``X-Subject-Token``. Rate-limited per source address and per account
    (429 with Retry-After)."""
    receipt = request.headers.get("openstack-auth-receipt")
    throttle_auth(request, account_named(body, receipt))
    request.state.commit_anyway = True  # failed attempts' audit records and counters persist
    outcome = tokens.issue(uc, body, receipt)
    if outcome.receipt is not None:
        return JSONResponse(
            outcome.receipt_body,
            status_code=401,
            headers={
                "Openstack-Auth-Receipt": outcome.receipt,
                "WWW-Authenticate": 'Keystone uri="/identity"',
            },
        )
    if outcome.error is not None or outcome.row is None or outcome.raw is None:
        return errors.from_error("keystone", outcome.error or Unauthenticated(tokens.BAD_AUTH))
    doc = tokens.document(uc, outcome.row, base_url(request), "nocatalog" not in request.query_params)
    return JSONResponse(
        {"token": doc}, status_code=201, headers={"X-Subject-Token": outcome.raw, "Cache-Control": "no-store"}
    )


@endpoint(router, "GET", "/v3/auth/tokens", permission="self.read")
def validate_token(uc: UC, request: Request) -> JSONResponse:
    """The same document the token was issued with (yours, or any for operator administrators)."""
    raw = request.headers.get("x-subject-token")
    row = tokens.load_subject(uc, raw)
    doc = tokens.document(uc, row, base_url(request), "nocatalog" not in request.query_params)
    return JSONResponse({"token": doc}, headers={"X-Subject-Token": raw or "", "Cache-Control": "no-store"})


@endpoint(router, "HEAD", "/v3/auth/tokens", permission="self.read")
def check_token(uc: UC, request: Request) -> Response:
    tokens.load_subject(uc, request.headers.get("x-subject-token"))
    return Response(status_code=200)


@endpoint(router, "DELETE", "/v3/auth/tokens", permission="self.read", status_code=204)
def revoke_token(uc: UC, request: Request) -> Response:
    tokens.revoke_subject(uc, request.headers.get("x-subject-token"))
    return Response(status_code=204)


def _links(request: Request) -> dict[str, Any]:
    return {"self": str(request.url), "previous": None, "next": None}


@endpoint(router, "GET", "/v3/auth/projects", permission="project.read")
def auth_projects(uc: UC, request: Request) -> dict[str, Any]:
    """The projects you may scope a token to."""
    base = base_url(request)
    items, _ = orgs.list_projects(uc, 1000, None, {})
    principal = uc.require_principal()
    items = [p for p in items if tokens.roles_on(principal, p)]
    return {
        "projects": [
            {
                "id": p.id,
                "name": p.name,
                "domain_id": p.org_id,
                "parent_id": p.org_id,
                "description": p.description,
                "enabled": True,
                "is_domain": False,
                "tags": [],
                "options": {},
                "links": {"self": f"{base}/identity/v3/projects/{p.id}"},
            }
            for p in items
        ],
        "links": _links(request),
    }


@endpoint(router, "GET", "/v3/auth/domains", permission="self.read")
def auth_domains(request: Request, uc: UC) -> dict[str, Any]:
    """Domain-scoped tokens are not issued here: always empty."""
    return {"domains": [], "links": _links(request)}


@endpoint(router, "GET", "/v3/auth/catalog", permission="self.read")
def auth_catalog(uc: UC, request: Request) -> dict[str, Any]:
    token = uc.extras.get("token")
    if token is None or not token.project_id:
        raise Forbidden("A catalog is only given to a project-scoped token: scope your token to a project.")
    return {"catalog": catalog(uc, base_url(request)), "links": _links(request)}
