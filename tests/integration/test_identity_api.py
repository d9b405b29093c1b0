"""Organisation tree, users, tokens and tenant isolation through the API, on both databases."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD

pytestmark = pytest.mark.integration


def test_login_whoami_logout(api):
    s = api.admin()
    me = s.ok("GET", "/v1/auth/whoami")
    assert me["user"]["name"] == "admin"
    assert me["organisation"]["kind"] == "operator"
    s.ok("POST", "/v1/auth/logout", status=204)
    assert s.get("/v1/auth/whoami").status_code == 401


def test_unknown_user_and_wrong_password_answer_identically(api):
    s = api.admin()
    root = api.root_id(s)
    api.user(s, root, ["reader"], name="alice")
    a = api.client.post("/v1/auth/login", json={"username": "alice", "password": "wrong-password-123"})
    b = api.client.post("/v1/auth/login", json={"username": "nobody", "password": "wrong-password-123"})
    assert a.status_code == b.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(a) == strip(b)


def test_lockout_after_repeated_failures(api, rt):
    s = api.admin()
    api.user(s, api.root_id(s), ["reader"], name="bob")
    for _ in range(rt.settings.login_max_failures):
        assert (
            api.client.post("/v1/auth/login", json={"username": "bob", "password": "nope-nope-nope"}).status_code == 401
        )
    # locked: even the right password is refused, with the same answer
    r = api.client.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 401
    rt.clock.advance(rt.settings.login_lockout_seconds + 1)
    assert api.client.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 201


def test_token_expires(api, rt):
    s = api.admin()
    assert s.get("/v1/auth/whoami").status_code == 200
    rt.clock.advance(rt.settings.token_ttl_seconds + 1)
    assert s.get("/v1/auth/whoami").status_code == 401


def test_reseller_tree_and_isolation(api):
    op = api.admin()
    root = api.root_id(op)
    r = api.org(op, root, "reseller", "R")
    other_r = api.org(op, root, "reseller", "R2")
    _, r_admin = api.user(op, r["id"], ["admin"])
    c1 = api.org(r_admin, r["id"], "customer", "C1")
    c2 = api.org(r_admin, r["id"], "customer", "C2")
    c_other = api.org(op, other_r["id"], "customer", "Other")
    p1 = api.project(r_admin, c1["id"], "web")
    p2 = api.project(r_admin, c2["id"], "web")
    _, u1 = api.user(r_admin, c1["id"], ["member"])
    _, u2 = api.user(r_admin, c2["id"], ["member"])

    # C1's user sees its project, and C2's ids answer 404 like missing ones
    assert u1.ok("GET", f"/v1/projects/{p1['id']}")["name"] == "web"
    for path in (f"/v1/projects/{p2['id']}", f"/v1/organisations/{c2['id']}", f"/v1/organisations/{r['id']}"):
        assert u1.get(path).status_code == 404, path
    assert u1.patch(f"/v1/projects/{p2['id']}", json={"name": "x"}).status_code == 404
    assert u1.delete(f"/v1/projects/{p2['id']}").status_code == 404
    assert [p["id"] for p in u1.ok("GET", "/v1/projects")["items"]] == [p1["id"]]
    assert u2.get(f"/v1/projects/{p1['id']}").status_code == 404
    # the reseller sees its subtree but not another reseller's customers
    names = {o["name"] for o in r_admin.ok("GET", "/v1/organisations")["items"]}
    assert names == {"R", "C1", "C2"}
    assert r_admin.get(f"/v1/organisations/{c_other['id']}").status_code == 404
    assert r_admin.post("/v1/projects", json={"org_id": c_other["id"], "name": "x"}).status_code == 404
    # a member may not create users: visible, so 403
    assert u1.post("/v1/users", json={"org_id": c1["id"], "name": "zz", "password": PASSWORD}).status_code == 403


def test_customer_cannot_hold_children_and_projects_need_customers(api):
    op = api.admin()
    root = api.root_id(op)
    c = api.org(op, root, "customer")
    r = op.post("/v1/organisations", json={"parent_id": c["id"], "kind": "reseller", "name": "x"})
    assert r.status_code == 400
    assert op.post("/v1/projects", json={"org_id": root, "name": "p"}).status_code == 400


def test_legal_details_are_validated(api):
    op = api.admin()
    root = api.root_id(op)
    ok = api.org(op, root, "customer", "Mairie", siren="213105554", siret="21310555400017", vat_id="FR40213105554")
    assert ok["siren"] == "213105554"
    bad = op.post("/v1/organisations", json={"parent_id": root, "kind": "customer", "name": "x", "siren": "123456789"})
    assert bad.status_code == 400 and "siren" in bad.json()["detail"]


def test_api_key_authenticates_with_its_scope_only(api):
    op = api.admin()
    root = api.root_id(op)
    c = api.org(op, root, "customer")
    p = api.project(op, c["id"])
    _, admin_c = api.user(op, c["id"], ["admin"])
    key = admin_c.ok(
        "POST", "/v1/api-keys", {"name": "ci", "scope_type": "project", "scope_id": p["id"], "role": "reader"}
    )
    assert key["secret"].startswith("hxk_")
    h = {"Authorization": f"Bearer {key['secret']}"}
    assert api.client.get(f"/v1/projects/{p['id']}", headers=h).status_code == 200
    # the key may not read its owner's organisation; that organisation is its own, so 403, not 404
    assert api.client.get(f"/v1/organisations/{c['id']}", headers=h).status_code == 403
    listed = admin_c.ok("GET", "/v1/api-keys")["items"]
    assert "secret" not in listed[0]
    admin_c.ok("DELETE", f"/v1/api-keys/{key['id']}")
    assert api.client.get(f"/v1/projects/{p['id']}", headers=h).status_code == 401


def test_api_key_cannot_exceed_its_creators_role(api):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, member = api.user(op, c["id"], ["member"])
    r = member.post("/v1/api-keys", json={"name": "k", "scope_type": "org", "scope_id": c["id"], "role": "admin"})
    assert r.status_code == 403


def test_idempotent_create_returns_first_result(api):
    op = api.admin()
    root = api.root_id(op)
    body = {"parent_id": root, "kind": "customer", "name": "Idem"}
    h = {"Idempotency-Key": "create-idem-1"}
    a = op.post("/v1/organisations", json=body, headers=h)
    b = op.post("/v1/organisations", json=body, headers=h)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    assert b.headers.get("idempotent-replayed") == "true"
    assert len(op.ok("GET", "/v1/organisations?name=Idem")["items"]) == 1
    c = op.post("/v1/organisations", json={**body, "name": "Other"}, headers=h)
    assert c.status_code == 409


def test_pagination_walks_every_item_once(api):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    ids = {api.project(op, c["id"])["id"] for _ in range(7)}
    seen, cursor = [], None
    while True:
        page = op.ok("GET", "/v1/projects?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7


def test_role_grant_on_project_and_revoke(api):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    p = api.project(op, c["id"])
    u, us = api.user(op, c["id"], [])
    assert us.get(f"/v1/projects/{p['id']}").status_code == 404
    g = op.ok(
        "POST", "/v1/role-grants", {"user_id": u["id"], "role": "reader", "scope_type": "project", "scope_id": p["id"]}
    )
    assert us.get(f"/v1/projects/{p['id']}").status_code == 200
    op.ok("DELETE", f"/v1/role-grants/{g['id']}")
    assert us.get(f"/v1/projects/{p['id']}").status_code == 404


def test_cannot_grant_roles_outside_the_users_organisation(api):
    op = api.admin()
    root = api.root_id(op)
    c1, c2 = api.org(op, root, "customer"), api.org(op, root, "customer")
    u, _ = api.user(op, c1["id"], [])
    r = op.post(
        "/v1/role-grants", json={"user_id": u["id"], "role": "admin", "scope_type": "org", "scope_id": c2["id"]}
    )
    assert r.status_code == 400


def test_admin_cannot_grant_owner(api):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, admin_c = api.user(op, c["id"], ["admin"])
    u, _ = api.user(op, c["id"], [])
    r = admin_c.post(
        "/v1/role-grants", json={"user_id": u["id"], "role": "owner", "scope_type": "org", "scope_id": c["id"]}
    )
    assert r.status_code == 403


def test_password_policy(api):
    op = api.admin()
    r = op.post("/v1/users", json={"org_id": api.root_id(op), "name": "weak", "password": "short"})
    assert r.status_code == 400 and "at least" in r.json()["detail"]


def test_regions_are_operator_only_to_write(api):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, owner_c = api.user(op, c["id"], ["owner"])
    assert [r["name"] for r in owner_c.ok("GET", "/v1/regions")["items"]] == ["local"]
    body = {"name": "paris", "country": "FR", "legal_entity": "Op SAS"}
    refused = owner_c.post("/v1/regions", json=body)
    assert refused.status_code == 403 and "operator" in refused.json()["detail"]
    region = op.ok("POST", "/v1/regions", body)
    zone = op.ok("POST", f"/v1/regions/{region['id']}/zones", {"name": "paris-a"})
    assert op.ok("GET", "/v1/regions/paris")["zones"] == [{"id": zone["id"], "name": "paris-a"}]


def test_sibling_organisations_cannot_share_a_name(api):
    """Two resellers 'R1' made every `--org R1` ambiguous: names are unique among siblings, ignoring
    case, and the 409 names the existing one. Cousins may share a name; a deleted name is free."""
    op = api.admin()
    root = api.root_id(op)
    first = api.org(op, root, "reseller", "R1")
    for name in ("R1", "r1"):
        r = op.post("/v1/organisations", json={"parent_id": root, "kind": "reseller", "name": name})
        assert r.status_code == 409, r.text
        assert first["id"] in r.json()["detail"] and "'R1'" in r.json()["detail"]
    other = api.org(op, root, "customer", "C1")
    assert op.patch(f"/v1/organisations/{other['id']}", json={"name": "R1"}).status_code == 409
    assert op.patch(f"/v1/organisations/{other['id']}", json={"name": "c1"}).status_code == 200
    api.org(op, first["id"], "customer", "C1")  # a cousin of the operator's C1, not a sibling
    op.ok("DELETE", f"/v1/organisations/{other['id']}", status=204)
    api.org(op, root, "customer", "c1")


def test_sibling_name_uniqueness_is_enforced_by_the_database(rt):
    """Two racing creates cannot both pass the service's check: the database refuses the second."""
    from sqlalchemy.exc import IntegrityError

    from hexagone.db.models import Organisation

    with rt.db.session(write=True) as s:
        root = s.query(Organisation).filter(Organisation.parent_id.is_(None)).one()
        for oid in ("00000000-0000-7000-8000-000000000001", "00000000-0000-7000-8000-000000000002"):
            s.add(Organisation(id=oid, parent_id=root.id, kind="customer", name="Twin" if oid[-1] == "1" else "TWIN",
                               path=f"{root.path}{oid}/", depth=1, created_at=rt.clock.now(),
                               updated_at=rt.clock.now()))
        with pytest.raises(IntegrityError):
            s.flush()


def test_whoami_names_the_scope_of_each_grant(api):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer", "Acme")
    project = op.ok("POST", "/v1/projects", {"org_id": c["id"], "name": "web"})
    user, s = api.user(op, c["id"], ["reader"])
    op.ok("POST", "/v1/role-grants", {"user_id": user["id"], "role": "member", "scope_type": "project",
                                      "scope_id": project["id"]}, status=201)
    grants = s.ok("GET", "/v1/auth/whoami")["grants"]
    assert sorted((g["role"], g["scope_name"]) for g in grants) == [("member", "web"), ("reader", "Acme")]
