"""/v1/auth: login, logout, whoami, second factor, password change."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from hexagone.api.deps import UC, throttle_auth
from hexagone.api.problems import error_response
from hexagone.api.routing import PUBLIC, auth_attempt, endpoint, new_router
from hexagone.api.schemas import LoginIn, PasswordChangeIn, TotpConfirmIn, user_out
from hexagone.api.schemas.identity import LoginOut, TotpBegin, TotpConfirmed, WhoAmI
from hexagone.identity import auth

router = new_router("/v1/auth", "auth")


@endpoint(router, "POST", "/login", permission=PUBLIC, status_code=201, errors=(401,), response_model=LoginOut)
@auth_attempt
def login(body: LoginIn, uc: UC, request: Request) -> Any:
    """Exchange a login and password (and TOTP code) for a bearer token. Rate-limited per source
    address and per login name (429 with Retry-After)."""
    throttle_auth(request, body.username)
    request.state.commit_anyway = True  # a failed attempt's audit record and counter must persist
    pre = auth.precheck_password(request.app.state.db, uc.hasher, body.username, body.password)
    result = auth.login(uc, body.username, body.password, body.totp_code, body.recovery_code, precheck=pre)
    if result.error is not None:
        return error_response(request, result.error)
    assert result.token_row is not None and result.user is not None
    return JSONResponse(
        {
            "token": result.token,
            "token_id": result.token_row.id,
            "expires_at": result.token_row.expires_at.isoformat(),
            "user": {"id": result.user.id, "name": result.user.name, "org_id": result.user.org_id},
            "mfa": result.token_row.mfa,
            "restricted": result.token_row.restricted,
            "warnings": result.warnings,
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@endpoint(router, "POST", "/logout", permission="self.read", status_code=204)
def logout(uc: UC) -> None:
    """Revoke the bearer token sent with this request."""
    auth.logout(uc, uc.extras.get("token"))


@endpoint(router, "GET", "/whoami", permission="self.read", response_model=WhoAmI)
def whoami(uc: UC) -> dict[str, Any]:
    p = uc.require_principal()
    from hexagone.db.models import Organisation, User

    user = uc.extras.get("user") or uc.session.get(User, p.user_id)
    org = uc.session.get(Organisation, p.org_id)
    names = auth.scope_names(uc, p.grants)
    return {
        "user": user_out(user),
        "organisation": {"id": org.id, "name": org.name, "kind": org.kind} if org else None,
        "grants": [
            {"role": g.role, "scope_type": g.scope_type, "scope_id": g.scope_id, "scope_name": names.get(g.scope_id)}
            for g in p.grants
        ],
        "api_key_id": p.api_key_id,
        "restricted": p.restricted,
    }


@endpoint(router, "POST", "/totp", permission="self.update", status_code=201, response_model=TotpBegin)
def totp_begin(uc: UC) -> dict[str, Any]:
    """Start TOTP enrolment: returns the secret and an otpauth:// URI for an authenticator app."""
    secret, uri = auth.totp_begin(uc)
    return {"secret": secret, "otpauth_uri": uri}


@endpoint(router, "POST", "/totp/confirm", permission="self.update", response_model=TotpConfirmed)
@auth_attempt
def totp_confirm(body: TotpConfirmIn, uc: UC, request: Request) -> dict[str, Any]:
    """Finish enrolment with a current code; returns ten single-use recovery codes, shown once."""
    throttle_auth(request, uc.require_principal().name)
    return {"recovery_codes": auth.totp_confirm(uc, body.code),
            "note": "Store these recovery codes safely: they are shown only once. Log in again."}


@endpoint(router, "POST", "/totp/disable", permission="self.update", status_code=204)
@auth_attempt
def totp_disable(body: TotpConfirmIn, uc: UC, request: Request) -> None:
    throttle_auth(request, uc.require_principal().name)
    auth.totp_disable(uc, body.code)


@endpoint(router, "POST", "/password", permission="self.update", status_code=204)
@auth_attempt
def change_password(body: PasswordChangeIn, uc: UC, request: Request) -> None:
    """Change your password; every token of yours is revoked."""
    throttle_auth(request, uc.require_principal().name)
    auth.change_password(uc, body.current_password, body.new_password)
