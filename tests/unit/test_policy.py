"""``policy.decide``: pure, over plain values."""

from __future__ import annotations

import pytest

from hexagone.authz.policy import (
    ALL_PERMISSIONS,
    OPERATOR_ONLY,
    ROLE_PERMISSIONS,
    Decision,
    Grant,
    Principal,
    Target,
    decide,
    grant_permissions,
    may_have_child,
    missing_to_act_on,
    missing_to_confer,
    permissions_on,
    visible_scopes,
)

pytestmark = pytest.mark.unit

ROOT = "/root/"
RESELLER = "/root/res/"
CUSTOMER = "/root/res/cust/"
OTHER = "/root/other/"


def who(
    *grants: Grant, org_path: str = CUSTOMER, restricted: bool = False, key: str | None = None
) -> Principal:
    return Principal(
        user_id="u1",
        org_id="o1",
        org_path=org_path,
        grants=grants,
        root_path=ROOT,
        restricted=restricted,
        api_key_id=key,
    )


def org_grant(role: str, path: str = CUSTOMER) -> Grant:
    return Grant(role, "org", path.strip("/").split("/")[-1], path)


def test_org_grant_covers_the_subtree_and_nothing_else():
    p = who(org_grant("admin", RESELLER), org_path=RESELLER)
    assert decide(p, "project.create", Target(CUSTOMER)) is Decision.ALLOW
    assert decide(p, "project.create", Target(RESELLER)) is Decision.ALLOW
    assert decide(p, "project.read", Target(OTHER)) is Decision.HIDE
    assert decide(p, "org.read", Target(ROOT)) is Decision.HIDE


def test_visible_but_not_allowed_is_deny_invisible_is_hide():
    p = who(org_grant("reader"))
    assert decide(p, "project.read", Target(CUSTOMER, "p1")) is Decision.ALLOW
    assert decide(p, "project.delete", Target(CUSTOMER, "p1")) is Decision.DENY
    assert decide(p, "project.delete", Target(OTHER, "p2")) is Decision.HIDE


@pytest.mark.parametrize("role", sorted(ROLE_PERMISSIONS))
def test_each_role_holds_exactly_its_permissions(role):
    p = who(org_grant(role))
    for perm in sorted(ALL_PERMISSIONS - OPERATOR_ONLY):
        d = decide(p, perm, Target(CUSTOMER, "p1"))
        if perm in ROLE_PERMISSIONS[role] or perm in {
            "region.read",
            "flavor.read",
            "self.read",
            "self.update",
        }:
            assert d is Decision.ALLOW, (role, perm)
        else:
            assert d is Decision.DENY, (role, perm)


def test_role_ladder():
    assert (
        ROLE_PERMISSIONS["reader"]
        < ROLE_PERMISSIONS["member"]
        < ROLE_PERMISSIONS["admin"]
        < ROLE_PERMISSIONS["owner"]
    )
    assert ROLE_PERMISSIONS["billing"] < ROLE_PERMISSIONS["admin"]
    assert "org.delete" in ROLE_PERMISSIONS["owner"] and "org.delete" not in ROLE_PERMISSIONS["admin"]
    assert "audit.read" not in ROLE_PERMISSIONS["member"]
    assert "billing.read" not in ROLE_PERMISSIONS["member"]


def test_project_grant_covers_only_that_project():
    p = who(Grant("member", "project", "p1", CUSTOMER))
    assert decide(p, "compute.create", Target(CUSTOMER, "p1")) is Decision.ALLOW
    assert decide(p, "project.delete", Target(CUSTOMER, "p1")) is Decision.DENY
    assert decide(p, "compute.create", Target(CUSTOMER, "p2")) is Decision.HIDE
    assert decide(p, "org.update", Target(OTHER)) is Decision.HIDE


def test_a_principal_sees_its_own_organisation_and_user_record():
    p = who(Grant("member", "project", "p1", CUSTOMER))
    assert decide(p, "org.update", Target(CUSTOMER)) is Decision.DENY
    assert decide(p, "user.update", Target(CUSTOMER, owner_user_id="u1")) is Decision.DENY
    assert decide(p, "user.update", Target(CUSTOMER, owner_user_id="u2")) is Decision.HIDE
    assert decide(p, "user.update", Target(OTHER, owner_user_id="u2")) is Decision.HIDE


def test_an_api_key_may_not_act_on_its_owners_organisation_beyond_its_scope():
    key = who(Grant("reader", "project", "p1", CUSTOMER), key="k1")
    assert decide(key, "project.read", Target(CUSTOMER, "p1")) is Decision.ALLOW
    assert decide(key, "org.read", Target(CUSTOMER)) is Decision.DENY  # its owner's own organisation
    assert decide(key, "project.read", Target(CUSTOMER, "p2")) is Decision.HIDE


def test_operator_only_permissions_need_admin_on_the_root():
    assert (
        decide(who(org_grant("admin", ROOT), org_path=ROOT), "region.create", Target(ROOT)) is Decision.ALLOW
    )
    assert (
        decide(who(org_grant("owner", ROOT), org_path=ROOT), "audit.verify", Target(ROOT)) is Decision.ALLOW
    )
    assert (
        decide(who(org_grant("member", ROOT), org_path=ROOT), "region.create", Target(ROOT)) is Decision.DENY
    )
    assert (
        decide(who(org_grant("owner", RESELLER), org_path=RESELLER), "region.create", Target(ROOT))
        is Decision.HIDE
    )
    assert "region.create" in permissions_on(who(org_grant("owner", ROOT), org_path=ROOT), Target(CUSTOMER))


def test_unknown_permission_fails_closed():
    assert (
        decide(who(org_grant("owner", ROOT), org_path=ROOT), "nuke.everything", Target(ROOT)) is Decision.DENY
    )


def test_restricted_principal_may_only_act_on_itself():
    p = who(org_grant("owner"), restricted=True)
    assert decide(p, "self.update", Target(CUSTOMER)) is Decision.ALLOW
    assert decide(p, "self.read", Target(CUSTOMER)) is Decision.ALLOW
    assert decide(p, "project.read", Target(CUSTOMER, "p1")) is Decision.DENY
    assert decide(p, "region.read", Target(ROOT)) is Decision.DENY


def test_public_catalogue_is_readable_by_any_authenticated_principal():
    p = who()
    assert decide(p, "region.read", Target(ROOT)) is Decision.ALLOW
    assert decide(p, "flavor.read", Target(ROOT)) is Decision.ALLOW


def test_path_prefix_is_not_fooled_by_a_sibling_sharing_a_prefix():
    p = who(org_grant("admin", "/root/ab/"), org_path="/root/ab/")
    assert decide(p, "org.read", Target("/root/abc/")) is Decision.HIDE


def test_visible_scopes_for_lists():
    p = who(
        org_grant("reader", RESELLER), Grant("member", "project", "p9", OTHER), org_grant("billing", OTHER)
    )
    assert visible_scopes(p, "project.read") == ([RESELLER, OTHER], ["p9"])
    assert visible_scopes(p, "user.read") == ([RESELLER], ["p9"])
    assert visible_scopes(p, "billing.read") == ([OTHER], [])
    assert visible_scopes(p, "audit.read") == ([], [])


def test_conferring_a_grant_needs_every_permission_it_carries():
    member = who(org_grant("member"))
    assert missing_to_confer(member, org_grant("reader")) == frozenset()
    assert missing_to_confer(member, Grant("member", "project", "p1", CUSTOMER)) == frozenset()
    # billing is not "below" member: a different set
    assert missing_to_confer(member, org_grant("billing")) == {"billing.read", "billing.write"}
    admin = who(org_grant("admin"))
    assert missing_to_confer(admin, org_grant("billing")) == frozenset()
    assert missing_to_confer(admin, org_grant("owner")) == {"org.delete"}
    assert missing_to_confer(admin, org_grant("reader", OTHER)) == ROLE_PERMISSIONS["reader"]
    # a grant on the operator's organisation confers the operator-only permissions too
    assert grant_permissions(org_grant("admin", ROOT), ROOT) >= OPERATOR_ONLY
    assert missing_to_confer(who(org_grant("admin", RESELLER)), org_grant("admin", ROOT)) >= OPERATOR_ONLY
    assert missing_to_confer(who(org_grant("owner", ROOT)), org_grant("admin", ROOT)) == frozenset()


def test_acting_on_a_user_needs_everything_it_holds_everywhere():
    admin = who(org_grant("admin"))
    assert missing_to_act_on(admin, ()) == frozenset()
    assert missing_to_act_on(admin, (org_grant("member"), Grant("billing", "project", "p1", CUSTOMER))) == frozenset()
    assert missing_to_act_on(admin, (org_grant("owner"),)) == {"org.delete"}
    # a project administrator does not dominate someone holding a role on the whole organisation
    padmin = who(Grant("admin", "project", "p1", CUSTOMER))
    assert missing_to_act_on(padmin, (Grant("reader", "project", "p1", CUSTOMER),)) == frozenset()
    assert missing_to_act_on(padmin, (org_grant("reader"),)) == ROLE_PERMISSIONS["reader"]
    # an owner above (the reseller's) dominates the customer's owner
    assert missing_to_act_on(who(org_grant("owner", RESELLER)), (org_grant("owner"),)) == frozenset()


def test_tree_shape():
    assert may_have_child("operator", "reseller") and may_have_child("operator", "customer")
    assert may_have_child("reseller", "reseller") and may_have_child("reseller", "customer")
    assert not may_have_child("customer", "customer") and not may_have_child("customer", "reseller")
    assert not may_have_child("operator", "operator")
