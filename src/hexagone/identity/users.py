"""Users and role grants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update

from hexagone.authz.policy import (
    ROLES,
    Grant,
    Target,
    missing_to_act_on,
    missing_to_confer,
    visible_scopes,
)
from hexagone.db.models import ApiKey, Organisation, Project, RoleGrant, Token, User
from hexagone.db.pagination import paginate
from hexagone.errors import Conflict, Forbidden, InvalidInput, NotFound
from hexagone.identity.orgs import _path_filter, load_org, load_project, org_target
from hexagone.identity.rules import NAME_RE, password_problems
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase


def user_target(user: User) -> Target:
    return Target(org_path=user.org_path, owner_user_id=user.id)


def check_password(uc: UseCase, password: str, username: str) -> None:
    problems = password_problems(password, min_length=uc.settings.password_min_length, username=username)
    if problems:
        raise InvalidInput("The password is refused: " + "; ".join(problems) + ".")


def load_user(uc: UseCase, user_id: str) -> User:
    user = uc.session.get(User, user_id) if is_id(user_id) else None
    if user is None:
        raise NotFound("The user does not exist, or you cannot see it.")
    return user


def grants_of(uc: UseCase, user_id: str) -> tuple[Grant, ...]:
    rows = uc.session.execute(
        select(RoleGrant.role, RoleGrant.scope_type, RoleGrant.scope_id, RoleGrant.scope_path).where(
            RoleGrant.user_id == user_id
        )
    ).all()
    return tuple(Grant(r.role, r.scope_type, r.scope_id, r.scope_path) for r in rows)


def require_dominates(uc: UseCase, user: User, doing: str) -> None:
    """Acting on another user (password, second factor, enable/disable, delete, roles, API keys)
    needs every permission that user holds, on every scope where it holds one: an administrator
    cannot take over an owner. 403: the caller already proved it may see the user."""
    principal = uc.require_principal()
    if user.id == principal.user_id:
        return
    missing = missing_to_act_on(principal, grants_of(uc, user.id))
    if missing:
        raise Forbidden(
            f"You cannot {doing} this user: it holds permissions you do not "
            f"({', '.join(sorted(missing)[:5])}{', ...' if len(missing) > 5 else ''}). Ask someone who holds them all."
        )


def create_user(uc: UseCase, org_id: str, name: str, password: str, email: str, roles: list[str]) -> User:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "user.create", what="organisation")
    if not NAME_RE.match(name):
        raise InvalidInput("The login name may hold letters, digits and . _ @ + - (at most 100 characters).")
    check_password(uc, password, name)
    if uc.session.execute(select(User.id).where(User.name == name)).first():
        raise Conflict(f"The login name '{name}' is taken; choose another.")
    user = User(
        id=new_id(),
        org_id=org.id,
        org_path=org.path,
        name=name,
        email=email,
        password_hash=uc.hasher.hash_password(password),
        password_changed_at=uc.now,
        totp_enabled=False,
        recovery_codes=[],
        failed_logins=0,
        enabled=True,
        totp_last_step=0,
        created_at=uc.now,
        updated_at=uc.now,
    )
    uc.session.add(user)
    uc.session.flush()
    uc.audit("user.create", "user", user.id, org.id, org.path, details={"name": name})
    for role in roles:
        grant_role(uc, user.id, role, "org", org.id)
    return user


def get_user(uc: UseCase, user_id: str) -> User:
    user = load_user(uc, user_id)
    uc.authorize(user_target(user), "user.read", what="user")
    return user


def list_users(uc: UseCase, limit: int, cursor: str | None, filters: dict[str, Any]) -> tuple[list[User], str | None]:
    principal = uc.require_principal()
    paths, _ = visible_scopes(principal, "user.read")
    stmt = select(User).where(or_(_path_filter(User.org_path, paths), User.id == principal.user_id))
    if filters.get("org_id"):
        stmt = stmt.where(User.org_id == filters["org_id"])
    if filters.get("name"):
        stmt = stmt.where(User.name == filters["name"])
    return paginate(uc.session, stmt, User.id, limit, cursor)


def update_user(uc: UseCase, user_id: str, changes: dict[str, Any]) -> User:
    user = load_user(uc, user_id)
    uc.authorize(user_target(user), "user.update", what="user")
    require_dominates(uc, user, "change")
    if changes.get("email") is not None:
        user.email = changes["email"]
    if changes.get("enabled") is not None:
        user.enabled = bool(changes["enabled"])
        if not user.enabled:
            revoke_all_tokens(uc, user)
    if changes.get("password") is not None:
        check_password(uc, changes["password"], user.name)
        user.password_hash = uc.hasher.hash_password(changes["password"])
        user.password_changed_at = uc.now
        revoke_all_tokens(uc, user)
    if changes.get("unlock"):
        user.failed_logins = 0
        user.locked_until = None
    if changes.get("totp_reset"):
        # a lost authenticator: the user enrols again at its next login (restricted until then
        # where a second factor is mandatory); its tokens go, as after a password reset
        user.totp_enabled = False
        user.totp_secret = None
        user.recovery_codes = []
        revoke_all_tokens(uc, user)
    user.updated_at = uc.now
    safe = sorted(k for k in changes if k != "password") + (["password"] if "password" in changes else [])
    uc.audit("user.update", "user", user.id, user.org_id, user.org_path, details={"fields": safe})
    return user


def delete_user(uc: UseCase, user_id: str) -> None:
    user = load_user(uc, user_id)
    uc.authorize(user_target(user), "user.delete", what="user")
    if user.id == uc.require_principal().user_id:
        raise Conflict("You cannot delete yourself; ask another administrator.")
    require_dominates(uc, user, "delete")
    uc.session.execute(delete(Token).where(Token.user_id == user.id))
    uc.session.execute(delete(ApiKey).where(ApiKey.user_id == user.id))
    uc.session.execute(delete(RoleGrant).where(RoleGrant.user_id == user.id))
    uc.session.delete(user)
    uc.audit("user.delete", "user", user.id, user.org_id, user.org_path, details={"name": user.name})


def revoke_all_tokens(uc: UseCase, user: User) -> None:
    uc.session.execute(
        update(Token).where(Token.user_id == user.id, Token.revoked_at.is_(None)).values(revoked_at=uc.now)
    )


# --- role grants ---------------------------------------------------------------------------------------


def _scope(uc: UseCase, scope_type: str, scope_id: str) -> tuple[Target, str, Organisation | Project]:
    if scope_type == "org":
        org = load_org(uc, scope_id)
        return org_target(org), org.path, org
    if scope_type == "project":
        project = load_project(uc, scope_id)
        return Target(org_path=project.org_path, project_id=project.id), project.org_path, project
    raise InvalidInput("scope_type must be 'org' or 'project'.")


def scope_noun(scope_type: str) -> str:
    """How a scope is named in errors: the same words as a missing one (no existence oracle)."""
    return "organisation" if scope_type == "org" else scope_type


def grant_role(uc: UseCase, user_id: str, role: str, scope_type: str, scope_id: str) -> RoleGrant:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}.")
    target, scope_path, _ = _scope(uc, scope_type, scope_id)
    uc.authorize(target, "role.grant", what=scope_noun(scope_type))
    user = load_user(uc, user_id)
    uc.authorize(user_target(user), "user.read", what="user")
    if not scope_path.startswith(user.org_path):
        raise InvalidInput("A user can only hold roles inside its own organisation's subtree.")
    principal = uc.require_principal()
    missing = missing_to_confer(principal, Grant(role, scope_type, scope_id, scope_path))
    if missing:
        raise Forbidden(
            f"Granting '{role}' here needs every permission it holds; you lack {', '.join(sorted(missing))}."
        )
    require_dominates(uc, user, "change the roles of")
    existing = uc.session.execute(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id,
            RoleGrant.role == role,
            RoleGrant.scope_type == scope_type,
            RoleGrant.scope_id == scope_id,
        )
    ).scalar_one_or_none()
    if existing:
        return existing
    grant = RoleGrant(
        id=new_id(),
        user_id=user.id,
        role=role,
        scope_type=scope_type,
        scope_id=scope_id,
        scope_path=scope_path,
        created_at=uc.now,
    )
    uc.session.add(grant)
    uc.session.flush()
    uc.audit(
        "role.grant",
        "role_grant",
        grant.id,
        user.org_id,
        scope_path,
        details={"user_id": user.id, "role": role, "scope_type": scope_type, "scope_id": scope_id},
    )
    return grant


def list_grants(
    uc: UseCase, limit: int, cursor: str | None, filters: dict[str, Any]
) -> tuple[list[RoleGrant], str | None]:
    principal = uc.require_principal()
    paths, _ = visible_scopes(principal, "role.read")
    stmt = select(RoleGrant).where(
        or_(_path_filter(RoleGrant.scope_path, paths), RoleGrant.user_id == principal.user_id)
    )
    if filters.get("user_id"):
        stmt = stmt.where(RoleGrant.user_id == filters["user_id"])
    if filters.get("scope_id"):
        stmt = stmt.where(RoleGrant.scope_id == filters["scope_id"])
    return paginate(uc.session, stmt, RoleGrant.id, limit, cursor)


def revoke_grant(uc: UseCase, grant_id: str) -> None:
    grant = uc.session.get(RoleGrant, grant_id) if is_id(grant_id) else None
    if grant is None:
        raise NotFound("The role grant does not exist, or you cannot see it.")
    target = Target(org_path=grant.scope_path, project_id=grant.scope_id if grant.scope_type == "project" else None)
    uc.authorize(target, "role.revoke", what="role grant")
    user = uc.session.get(User, grant.user_id)
    if user is not None:
        require_dominates(uc, user, "change the roles of")  # covers the revoked grant itself
    uc.session.delete(grant)
    uc.audit(
        "role.revoke",
        "role_grant",
        grant.id,
        user.org_id if user else None,
        grant.scope_path,
        details={"user_id": grant.user_id, "role": grant.role},
    )
