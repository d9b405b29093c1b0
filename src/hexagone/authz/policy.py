"""Who may do what on which tenant. Pure functions over plain values: no database, no HTTP.

A *grant* gives a role on an organisation (and everything below it in the tree) or on one project.
A request names a *permission* (``"project.create"``) and a *target* (the organisation path and,
for project resources, the project id). ``decide`` answers ALLOW, DENY (the principal can see the
target but may not do this: 403) or HIDE (the principal cannot even see it: 404, exactly as if it
did not exist — another tenant's ids never leak).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

ROLES = ("owner", "admin", "member", "reader", "billing")

READ = frozenset(
    {
        "org.read", "project.read", "user.read", "role.read", "apikey.read", "region.read",
        "compute.read", "image.read", "flavor.read", "keypair.read", "quota.read", "host.read",
    }
)
MEMBER = READ | {
    "compute.create", "compute.update", "compute.delete", "compute.action",
    "image.create", "image.update", "image.delete", "keypair.create", "keypair.delete",
    "apikey.create", "apikey.delete",
}
BILLING = frozenset({"org.read", "project.read", "region.read", "billing.read", "billing.write", "quota.read"})
ADMIN = MEMBER | BILLING | {
    "org.create", "org.update", "project.create", "project.update", "project.delete",
    "user.create", "user.update", "user.delete", "role.grant", "role.revoke", "audit.read",
    "quota.update",
}
OWNER = ADMIN | {"org.delete"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "reader": READ,
    "member": frozenset(MEMBER),
    "billing": BILLING,
    "admin": frozenset(ADMIN),
    "owner": frozenset(OWNER),
}

#: Permissions that only the operator's own staff hold (grant on the root organisation).
OPERATOR_ONLY = frozenset(
    {"region.create", "region.update", "region.delete", "host.create", "host.update", "host.delete",
     "flavor.create", "flavor.update", "flavor.delete", "audit.verify", "image.publish"}
)
#: Permissions every authenticated principal holds (public catalogue reads, one's own session).
ANY_AUTHENTICATED = frozenset({"region.read", "flavor.read", "self.read", "self.update"})
#: What a token may do while its user still has to enrol a mandatory second factor.
RESTRICTED_ALLOWED = frozenset({"self.read", "self.update"})

ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values(), OPERATOR_ONLY, ANY_AUTHENTICATED)


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    HIDE = "hide"


@dataclass(frozen=True)
class Grant:
    role: str
    scope_type: str  # "org" | "project"
    scope_id: str
    scope_path: str  # org path of the scope (for a project: its organisation's path)


@dataclass(frozen=True)
class Principal:
    user_id: str
    org_id: str
    org_path: str
    grants: tuple[Grant, ...]
    root_path: str  # the operator organisation's path
    restricted: bool = False
    api_key_id: str | None = None
    name: str = ""


@dataclass(frozen=True)
class Target:
    """What a request acts on: an organisation subtree, optionally one project in it."""

    org_path: str
    project_id: str | None = None
    owner_user_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _covers(grant: Grant, target: Target) -> bool:
    if grant.scope_type == "org":
        return target.org_path.startswith(grant.scope_path)
    return target.project_id is not None and target.project_id == grant.scope_id


def grant_permissions(grant: Grant, root_path: str) -> frozenset[str]:
    """Every permission one grant confers on its scope (and, for an organisation, below it).
    Administrators and owners of the operator's own organisation also hold ``OPERATOR_ONLY``."""
    perms = ROLE_PERMISSIONS.get(grant.role, frozenset())
    if grant.scope_type == "org" and grant.scope_path == root_path and grant.role in ("admin", "owner"):
        perms = perms | OPERATOR_ONLY
    return perms


def grant_target(grant: Grant) -> Target:
    """The scope a grant names, as a target."""
    return Target(org_path=grant.scope_path, project_id=grant.scope_id if grant.scope_type == "project" else None)


def permissions_on(principal: Principal, target: Target) -> frozenset[str]:
    """Every permission the principal holds on the target."""
    perms: set[str] = set()
    for grant in principal.grants:
        if _covers(grant, target):
            perms |= grant_permissions(grant, principal.root_path)
    return frozenset(perms)


def decide(principal: Principal, permission: str, target: Target) -> Decision:
    """The one decision every request goes through."""
    if permission not in ALL_PERMISSIONS:
        return Decision.DENY  # unknown permission: fail closed
    if principal.restricted and permission not in RESTRICTED_ALLOWED:
        return Decision.DENY
    if permission in ANY_AUTHENTICATED:
        return Decision.ALLOW
    perms = permissions_on(principal, target)
    if permission in perms:
        return Decision.ALLOW
    if perms or _is_own(principal, target):
        return Decision.DENY
    return Decision.HIDE


def _is_own(principal: Principal, target: Target) -> bool:
    """A principal always sees its own user record and organisation (so errors are 403, not 404)."""
    if target.owner_user_id is not None:
        return target.owner_user_id == principal.user_id
    return target.project_id is None and target.org_path == principal.org_path


def visible_scopes(principal: Principal, permission: str) -> tuple[list[str], list[str]]:
    """For list queries: the org-path prefixes and project ids under which ``permission`` holds."""
    paths: list[str] = []
    projects: list[str] = []
    if principal.restricted:
        return paths, projects
    for grant in principal.grants:
        perms = ROLE_PERMISSIONS.get(grant.role, frozenset())
        if permission in perms:
            if grant.scope_type == "org":
                paths.append(grant.scope_path)
            else:
                projects.append(grant.scope_id)
    return paths, projects


def missing_to_confer(actor: Principal, grant: Grant) -> frozenset[str]:
    """What ``grant`` would confer that ``actor`` does not hold on the grant's scope (empty: the
    actor may confer it). Used for API keys (a key is a grant its creator confers on it) and role
    grants: nobody hands out a permission it does not hold itself, whatever the role's name."""
    return grant_permissions(grant, actor.root_path) - permissions_on(actor, grant_target(grant))


def missing_to_act_on(actor: Principal, target_grants: tuple[Grant, ...]) -> frozenset[str]:
    """What a user holding ``target_grants`` holds that ``actor`` lacks, on any scope (empty: the
    actor dominates that user and may reset its password, disable, delete it, or change its
    roles). Checking grant by grant is enough: a grant covering a scope covers everything below it,
    so the actor's permissions only grow going down the tree, as the target's do."""
    missing: set[str] = set()
    for grant in target_grants:
        missing |= missing_to_confer(actor, grant)
    return frozenset(missing)


CHILD_KINDS = {"operator": ("reseller", "customer"), "reseller": ("reseller", "customer"), "customer": ()}


def may_have_child(parent_kind: str, child_kind: str) -> bool:
    """The shape of the tree: resellers and customers under the operator or a reseller."""
    return child_kind in CHILD_KINDS.get(parent_kind, ())
