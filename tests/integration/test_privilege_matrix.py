"""The privilege matrix: who may confer what, and act on whom, DERIVED from permission sets.

Two matrices run against the real API, on SQLite and PostgreSQL:

* **API keys** — every creator profile (no role, each organisation role, each pair of them, each
  project role) × every key (each role, on the organisation or on its project). The expected
  answer is computed here from ``ROLE_PERMISSIONS`` alone: 201 when the creator holds
  ``apikey.create`` and every permission of the key's role on the key's scope, else 403 (the
  creator sees the scope) or 404 (it does not). Then every creator loses its first role and each
  key must keep working exactly when its permissions are still within what its creator holds.
* **Acting on users** — every actor profile × every target profile: reset the password, grant a
  role, revoke one of the target's roles, delete it. Allowed exactly when the actor holds the
  action's permission and every permission the target holds (and, for a grant, every permission
  of the role it confers); each outcome is computed from the target's grants at that moment.

The expected outcome never comes from the code under test. A new role or permission changes the
pinned digest below, so this file fails until someone has looked at the matrix again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from hexagone.authz.policy import (
    ANY_AUTHENTICATED,
    OPERATOR_ONLY,
    RESTRICTED_ALLOWED,
    ROLE_PERMISSIONS,
    ROLES,
)
from tests.helpers import PASSWORD, Api, Session

pytestmark = pytest.mark.integration

#: The roles the matrices walk. Adding a role to the policy without adding it here fails below.
MATRIX_ROLES = ("owner", "admin", "member", "reader", "billing")
#: sha256 of every role's permission set, the operator-only, any-authenticated and restricted sets.
PINNED_DIGEST = "884d2b1cbc44fd4b68b012994a4e777ed2e8e0f75b95ce6f53efbd861c43f994"


def policy_digest() -> str:
    doc = {
        "roles": {r: sorted(p) for r, p in sorted(ROLE_PERMISSIONS.items())},
        "operator_only": sorted(OPERATOR_ONLY),
        "any_authenticated": sorted(ANY_AUTHENTICATED),
        "restricted_allowed": sorted(RESTRICTED_ALLOWED),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def test_the_matrix_is_pinned_to_the_current_roles_and_permissions() -> None:
    assert set(ROLES) == set(MATRIX_ROLES) == set(ROLE_PERMISSIONS), (
        "A role was added or removed: add it to MATRIX_ROLES and check the matrices below."
    )
    assert policy_digest() == PINNED_DIGEST, (
        "A role's permissions changed: check that the matrices below still exercise it, "
        f"then pin the new digest {policy_digest()}."
    )


def perms(roles: tuple[str, ...] | list[str]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for role in roles:
        out |= ROLE_PERMISSIONS[role]
    return out


# --- API keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A creator's roles: on the customer organisation, and on its project."""

    org_roles: tuple[str, ...] = ()
    project_roles: tuple[str, ...] = ()

    def held(self, scope: str) -> frozenset[str]:
        """What the profile holds on the organisation ("org") or on the project ("project")."""
        return perms(self.org_roles) | (perms(self.project_roles) if scope == "project" else frozenset())


def creator_profiles() -> list[Profile]:
    orgs = [Profile(org_roles=c) for n in (0, 1, 2) for c in itertools.combinations(MATRIX_ROLES, n)]
    return orgs + [Profile(project_roles=(r,)) for r in MATRIX_ROLES]


def expected_key_creation(profile: Profile, role: str, scope: str) -> int:
    held = profile.held(scope)
    if "apikey.create" in held and ROLE_PERMISSIONS[role] <= held:
        return 201
    # the creator's own organisation is always visible to it; the project only through a role
    return 403 if held or scope == "org" else 404


def _user_with(api: Api, op: Session, org_id: str, project_id: str, profile: Profile, name: str) -> Session:
    u = op.ok("POST", "/v1/users", {"org_id": org_id, "name": name, "password": PASSWORD,
                                    "roles": list(profile.org_roles)})
    for role in profile.project_roles:
        op.ok("POST", "/v1/role-grants", {"user_id": u["id"], "role": role, "scope_type": "project",
                                          "scope_id": project_id})
    return api.login(name, PASSWORD)


def test_api_keys_carry_only_what_their_creator_holds_at_creation_and_at_each_use(api: Api) -> None:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer", name="keys")
    p = api.project(op, c["id"], name="keys-proj")
    scopes = {"org": c["id"], "project": p["id"]}
    keys: list[tuple[Profile, str, str, str]] = []  # (creator, role, scope, secret)
    creators: dict[Profile, Session] = {}
    mismatches = []
    for i, profile in enumerate(creator_profiles()):
        s = creators[profile] = _user_with(api, op, c["id"], p["id"], profile, f"kc{i}")
        for role, scope in itertools.product(MATRIX_ROLES, scopes):
            r = s.post("/v1/api-keys", json={"name": f"{role}-{scope}", "scope_type": scope,
                                             "scope_id": scopes[scope], "role": role})
            want = expected_key_creation(profile, role, scope)
            if r.status_code != want:
                mismatches.append((profile, role, scope, want, r.status_code, r.text[:200]))
            elif want == 201:
                keys.append((profile, role, scope, r.json()["secret"]))
    assert not mismatches, "\n".join(map(str, mismatches))
    assert len(keys) > 20  # the matrix really minted keys, not only refusals

    # every creator holding an organisation role loses its first one; its keys follow at once
    after: dict[Profile, Profile] = {}
    for profile, s in creators.items():
        after[profile] = profile
        if profile.org_roles:
            grants = op.ok("GET", f"/v1/role-grants?user_id={s.user['id']}")["items"]
            dropped = next(g for g in grants if g["role"] == profile.org_roles[0] and g["scope_type"] == "org")
            op.ok("DELETE", f"/v1/role-grants/{dropped['id']}")
            after[profile] = Profile(profile.org_roles[1:], profile.project_roles)
    for profile, role, scope, secret in keys:
        r = api.client.get("/v1/auth/whoami", headers={"Authorization": f"Bearer {secret}"})
        want = 200 if ROLE_PERMISSIONS[role] <= after[profile].held(scope) else 401
        if r.status_code != want:
            mismatches.append((profile, "->", after[profile], role, scope, want, r.status_code))
    assert not mismatches, "\n".join(map(str, mismatches))


# --- acting on users --------------------------------------------------------------------------


def role_sets() -> list[tuple[str, ...]]:
    return [c for n in (0, 1, 2) for c in itertools.combinations(MATRIX_ROLES, n)]


def expected_on_user(actor: tuple[str, ...], permission: str, target: list[str], hidden_if_blind: bool) -> int:
    """The answer to ``actor`` using ``permission`` on a user holding ``target`` (organisation
    roles), for a use case whose success is 2xx (the caller maps it)."""
    held = perms(actor)
    if permission not in held:
        return 404 if hidden_if_blind and not held else 403
    return 0 if perms(target) <= held else 403


def ok_or(code: int, success: int) -> int:
    return success if code == 0 else code


@dataclass
class Target:
    id: str
    roles: list[str] = field(default_factory=list)
    grants: dict[str, str] = field(default_factory=dict)  # role -> grant id


def test_acting_on_a_user_needs_every_permission_it_holds(api: Api) -> None:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer", name="acting")
    mismatches: list[Any] = []
    n = itertools.count()

    def check(what: Any, want: int, r: Any) -> bool:
        if r.status_code != want:
            mismatches.append((*what, want, r.status_code, r.text[:160]))
        return bool(r.status_code == want)

    def fresh(roles: tuple[str, ...]) -> Target:
        u = op.ok("POST", "/v1/users", {"org_id": c["id"], "name": f"t{next(n)}", "password": PASSWORD,
                                        "roles": list(roles)})
        grants = op.ok("GET", f"/v1/role-grants?user_id={u['id']}")["items"]
        return Target(u["id"], list(roles), {g["role"]: g["id"] for g in grants})

    def grant(s: Session, actor: tuple[str, ...], t: Target, role: str, what: tuple[Any, ...]) -> None:
        code = expected_on_user(actor, "role.grant", t.roles, hidden_if_blind=False)
        if code == 0 and not ROLE_PERMISSIONS[role] <= perms(actor):
            code = 403
        r = s.post("/v1/role-grants", json={"user_id": t.id, "role": role, "scope_type": "org", "scope_id": c["id"]})
        if check((*what, "grant", role), ok_or(code, 201), r) and code == 0 and role not in t.roles:
            # and take it back: the actor holds everything the target now holds
            check((*what, "revoke granted", role), 204, s.delete(f"/v1/role-grants/{r.json()['id']}"))

    for i, actor in enumerate(role_sets()):
        s = api.login(op.ok("POST", "/v1/users", {"org_id": c["id"], "name": f"actor{i}", "password": PASSWORD,
                                                  "roles": list(actor)})["name"], PASSWORD)
        # conferring: each role to a user holding nothing
        blank = fresh(())
        for role in MATRIX_ROLES:
            grant(s, actor, blank, role, (actor, ()))
        # acting on each kind of target
        for target_roles in [(), *[(r,) for r in MATRIX_ROLES], ("member", "billing"), ("admin", "billing")]:
            t = fresh(target_roles)
            what = (actor, target_roles)
            code = expected_on_user(actor, "user.update", t.roles, hidden_if_blind=True)
            check((*what, "password"), ok_or(code, 200),
                  s.patch(f"/v1/users/{t.id}", json={"password": "another-long-passphrase"}))
            grant(s, actor, t, "reader", what)
            if t.roles:
                role = t.roles[0]
                code = expected_on_user(actor, "role.revoke", t.roles, hidden_if_blind=False)
                revoked = s.delete(f"/v1/role-grants/{t.grants[role]}")
                if check((*what, "revoke", role), ok_or(code, 204), revoked) and code == 0:
                    t.roles.remove(role)
            code = expected_on_user(actor, "user.delete", t.roles, hidden_if_blind=True)
            check((*what, "delete", tuple(t.roles)), ok_or(code, 204), s.delete(f"/v1/users/{t.id}"))
    assert not mismatches, "\n".join(map(str, mismatches))
