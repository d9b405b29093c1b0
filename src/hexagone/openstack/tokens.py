"""Keystone v3 tokens over Hexagone's own: who authenticates, to which project, and the document.

A Keystone token *is* a Hexagone bearer token (``identity.auth.issue_token``), scoped with
``project_id``; it works on the native API too and the same policy decides. Mapping:

* a customer organisation is a Keystone **domain** (id = organisation id, name = its name); the
  domain ``Default`` (id ``default``) means "find the user by its unique login name";
* a project is a project; a user's Keystone **roles** on it come from its grants covering it:
  owner/admin → ``admin`` (+ implied ``member``, ``reader``), member → ``member`` (+ ``reader``),
  reader → ``reader``; billing gives no Keystone role;
* the document is re-rendered from the token row on validation (``issued_at``/``expires_at``
  from the row, ``audit_ids`` from its id, ``methods`` from its ``mfa`` flag), so validating a
  token returns exactly what issuing it returned.

TOTP users follow Keystone's MFA flow: a password alone answers 401 with an
``Openstack-Auth-Receipt`` (a signed, 5-minute receipt) and the required methods; the client then
sends the receipt with a ``totp`` method, or ``password`` and ``totp`` together.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from hexagone.authz.policy import Principal
from hexagone.db.models import Organisation, Project, Token, User
from hexagone.errors import HexagoneError, MfaRequired, NotFound, Unauthenticated
from hexagone.identity import auth
from hexagone.openstack.catalog import catalog, hex_id, iso
from hexagone.usecase import UseCase

RECEIPT_TTL = 300
IMPLIED = {
    "owner": ("admin", "member", "reader"),
    "admin": ("admin", "member", "reader"),
    "member": ("member", "reader"),
    "reader": ("reader",),
}
BAD_AUTH = "The request you have made requires authentication: check the user, password, domain and project."


@dataclass
class Outcome:
    """The result of ``POST /v3/auth/tokens``: a token, or an error (+ a receipt for MFA)."""

    raw: str | None = None
    row: Token | None = None
    error: HexagoneError | None = None
    receipt: str | None = None
    receipt_body: dict[str, Any] = field(default_factory=dict)


# --- reading the request -----------------------------------------------------------------------


def _domain_matches(spec: Any, org: Organisation | None) -> bool:
    if not isinstance(spec, dict) or not spec:
        return True
    if spec.get("id") is not None:
        return str(spec["id"]) == "default" or (org is not None and spec["id"] == org.id)
    if spec.get("name") is not None:
        return str(spec["name"]).lower() == "default" or (org is not None and spec["name"] == org.name)
    return False


def find_user(uc: UseCase, spec: Any) -> User | None:
    if not isinstance(spec, dict):
        return None
    user = None
    if isinstance(spec.get("id"), str):
        user = uc.session.get(User, spec["id"][:64])
    elif isinstance(spec.get("name"), str):
        user = uc.session.execute(select(User).where(User.name == spec["name"][:100])).scalar_one_or_none()
    if user is None or not _domain_matches(spec.get("domain"), uc.session.get(Organisation, user.org_id)):
        return None
    return user


def roles_on(principal: Principal, project: Project) -> list[str]:
    """The Keystone roles the principal holds on the project, implied ones included."""
    names: set[str] = set()
    for grant in principal.grants:
        covers = (grant.scope_type == "org" and project.org_path.startswith(grant.scope_path)) or (
            grant.scope_type == "project" and grant.scope_id == project.id
        )
        if covers:
            names.update(IMPLIED.get(grant.role, ()))
    return sorted(names)


def resolve_project(uc: UseCase, user: User, scope: Any) -> Project | None:
    """The project a request scopes to (None: unscoped). Unauthenticated when the scope names no
    project the user holds a role on, or a kind of scope this cloud does not issue."""
    if scope is None or scope == "unscoped":
        return None
    if not isinstance(scope, dict) or "project" not in scope:
        raise Unauthenticated(
            "Only project-scoped and unscoped tokens are issued here; "
            "scope to a project (domain and system scopes are not supported)."
        )
    spec = scope["project"] if isinstance(scope["project"], dict) else {}
    principal = auth.principal_for_user(uc, user, restricted=False)
    if isinstance(spec.get("id"), str):
        candidates = [p for p in [uc.session.get(Project, spec["id"][:64])] if p is not None]
    elif isinstance(spec.get("name"), str):
        candidates = list(
            uc.session.execute(select(Project).where(Project.name == spec["name"][:100])).scalars()
        )
        candidates = [
            p
            for p in candidates
            if _domain_matches(
                spec.get("domain") or {"id": "default"}, uc.session.get(Organisation, p.org_id)
            )
        ]
    else:
        candidates = []
    candidates = [p for p in candidates if roles_on(principal, p)]
    if len(candidates) != 1:
        raise Unauthenticated(
            "You hold no role on that project, or several projects match it: scope by project id."
            if len(candidates) != 0 or not spec
            else BAD_AUTH
        )
    return candidates[0]


# --- issuing ------------------------------------------------------------------------------------


def _receipt(uc: UseCase, user: User) -> str:
    expires = int(uc.now.timestamp()) + RECEIPT_TTL
    mac = uc.hasher.keyed(f"openstack-receipt:{user.id}:{expires}")[:32]
    return f"{user.id}.{expires}.{mac}"


def _user_of_receipt(uc: UseCase, receipt: str) -> User | None:
    user_id, _, rest = receipt.partition(".")
    expires, _, mac = rest.partition(".")
    if not receipt.isascii() or not expires.isdigit() or int(expires) < uc.now.timestamp():
        return None  # a client's header may hold any byte: compare_digest takes ASCII text only
    if not hmac.compare_digest(mac, uc.hasher.keyed(f"openstack-receipt:{user_id}:{expires}")[:32]):
        return None
    return uc.session.get(User, user_id)


def _mfa_outcome(uc: UseCase, user: User) -> Outcome:
    receipt = _receipt(uc, user)
    org = uc.session.get(Organisation, user.org_id)
    body = {
        "receipt": {
            "methods": ["password"],
            "issued_at": iso(uc.now),
            "expires_at": iso(uc.now + dt.timedelta(seconds=RECEIPT_TTL)),
            "user": {
                "id": user.id,
                "name": user.name,
                "domain": {"id": user.org_id, "name": org.name if org else ""},
            },
        },
        "required_auth_methods": [["password", "totp"]],
    }
    return Outcome(
        error=MfaRequired(
            "Additional authentications steps required: send a TOTP passcode with this receipt."
        ),
        receipt=receipt,
        receipt_body=body,
    )


def issue(uc: UseCase, body: Any, receipt: str | None) -> Outcome:
    """Authenticate ``POST /v3/auth/tokens``. Never raises for bad credentials (their audit record
    must commit): the failure is in ``Outcome.error``."""
    try:
        identity = body["auth"]["identity"]
        methods = [m for m in identity["methods"] if isinstance(m, str)]
    except (KeyError, TypeError):
        return Outcome(error=Unauthenticated("Send {'auth': {'identity': {'methods': [...], ...}}}."))
    scope = body["auth"].get("scope") if isinstance(body.get("auth"), dict) else None
    if "token" in methods:
        return _rescope(uc, identity.get("token"), scope)
    passcode = _passcode(identity.get("totp"))
    if "password" not in methods:
        if "totp" in methods and receipt:
            return _receipt_and_totp(uc, receipt, passcode, scope)
        return Outcome(
            error=Unauthenticated("Authenticate with the password method (or token, or a receipt and totp).")
        )
    spec = identity.get("password", {}).get("user") if isinstance(identity.get("password"), dict) else None
    password = spec.get("password") if isinstance(spec, dict) else None
    if not isinstance(password, str):
        return Outcome(error=Unauthenticated(BAD_AUTH))
    user = find_user(uc, spec)
    project = None
    if user is not None:
        try:
            project = resolve_project(uc, user, scope)
        except Unauthenticated as exc:
            uc.hasher.verify_password(user.password_hash, password)  # same cost as a real attempt
            uc.audit(
                "auth.login",
                "user",
                user.id,
                user.org_id,
                user.org_path,
                result="failure",
                details={"login": user.name, "reason": "invalid scope", "via": "keystone"},
            )
            return Outcome(error=exc)
    result = auth.login(
        uc, user.name if user else "", password, passcode, None, project_id=project.id if project else None
    )
    if isinstance(result.error, MfaRequired) and user is not None:
        return _mfa_outcome(uc, user)
    if result.error is not None:
        return Outcome(error=Unauthenticated(BAD_AUTH))
    return Outcome(raw=result.token, row=result.token_row)


def _passcode(totp: Any) -> str | None:
    if isinstance(totp, dict) and isinstance(totp.get("user"), dict):
        code = totp["user"].get("passcode")
        return str(code) if code is not None else None
    return None


def _receipt_and_totp(uc: UseCase, receipt: str, passcode: str | None, scope: Any) -> Outcome:
    user = _user_of_receipt(uc, receipt)
    if user is None or not user.enabled or passcode is None:
        return Outcome(
            error=Unauthenticated("The receipt is invalid or expired: authenticate with the password again.")
        )
    if user.locked_until is not None and user.locked_until > uc.now:
        return Outcome(error=Unauthenticated(BAD_AUTH))
    project = resolve_project(uc, user, scope)
    if not auth.second_factor_ok(uc, user, passcode, None):
        uc.audit(
            "auth.login",
            "user",
            user.id,
            user.org_id,
            user.org_path,
            result="failure",
            details={"login": user.name, "reason": "wrong second factor", "via": "keystone receipt"},
        )
        return Outcome(error=Unauthenticated(BAD_AUTH))
    raw, row = auth.issue_token(
        uc, user, mfa=True, restricted=False, project_id=project.id if project else None
    )
    uc.audit(
        "auth.login",
        "user",
        user.id,
        user.org_id,
        user.org_path,
        details={"login": user.name, "mfa": True, "token_id": row.id, "via": "keystone receipt"},
    )
    return Outcome(raw=raw, row=row)


def _rescope(uc: UseCase, token_spec: Any, scope: Any) -> Outcome:
    """The ``token`` method: a new token for the same user (and same expiry), scoped anew."""
    raw_old = token_spec.get("id") if isinstance(token_spec, dict) else None
    if not isinstance(raw_old, str):
        return Outcome(error=Unauthenticated(BAD_AUTH))
    try:
        _, old = auth.authenticate(uc, raw_old)
    except Unauthenticated as exc:
        return Outcome(error=exc)
    if old is None:
        return Outcome(error=Unauthenticated("API keys cannot be exchanged for tokens; use a password."))
    user = uc.session.get(User, old.user_id)
    assert user is not None
    project = resolve_project(uc, user, scope)
    raw, row = auth.issue_token(
        uc, user, mfa=old.mfa, restricted=old.restricted, project_id=project.id if project else None
    )
    row.expires_at = old.expires_at
    uc.audit(
        "auth.login",
        "user",
        user.id,
        user.org_id,
        user.org_path,
        details={"login": user.name, "token_id": row.id, "rescoped_from": old.id, "via": "keystone token"},
    )
    return Outcome(raw=raw, row=row)


# --- the document -------------------------------------------------------------------------------


def audit_id(token_id: str) -> str:
    """Keystone's 22-character audit id, derived from the token's id."""
    return base64.urlsafe_b64encode(hashlib.sha256(token_id.encode()).digest()[:16]).decode().rstrip("=")


def _domain(org: Organisation | None) -> dict[str, str]:
    return {"id": org.id, "name": org.name} if org else {"id": "default", "name": "Default"}


def document(uc: UseCase, row: Token, base: str, with_catalog: bool = True) -> dict[str, Any]:
    user = uc.session.get(User, row.user_id)
    if user is None:
        raise NotFound("Could not find token: its user no longer exists.")
    doc: dict[str, Any] = {
        "methods": ["password", "totp"] if row.mfa else ["password"],
        "user": {
            "id": user.id,
            "name": user.name,
            "domain": _domain(uc.session.get(Organisation, user.org_id)),
            "password_expires_at": None,
        },
        "audit_ids": [audit_id(row.id)],
        "expires_at": iso(row.expires_at),
        "issued_at": iso(row.issued_at),
    }
    if row.project_id:
        project = uc.session.get(Project, row.project_id)
        if project is None:
            raise NotFound("Could not find token: its project no longer exists.")
        principal = auth.principal_for_user(uc, user, restricted=row.restricted)
        doc["project"] = {
            "id": project.id,
            "name": project.name,
            "domain": _domain(uc.session.get(Organisation, project.org_id)),
        }
        doc["is_domain"] = False
        doc["roles"] = [{"id": hex_id("role", name), "name": name} for name in roles_on(principal, project)]
        if with_catalog:
            doc["catalog"] = catalog(uc, base)
    return doc


def load_subject(uc: UseCase, raw: str | None) -> Token:
    """The token named by ``X-Subject-Token``, if it is live and the caller may see it (404 otherwise)."""
    missing = NotFound("Could not find token: it is unknown, expired or revoked.")
    if not raw:
        raise missing
    row = uc.session.execute(
        select(Token).where(Token.token_hash == uc.hasher.keyed(raw))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= uc.now:
        raise missing
    principal = uc.require_principal()
    if row.user_id != principal.user_id and not auth.is_operator_admin(uc, principal.grants):
        raise missing
    return row
