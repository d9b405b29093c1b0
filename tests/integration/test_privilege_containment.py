"""Privilege containment through the API, on SQLite and PostgreSQL: API keys never carry more than
their creator holds (at creation and at each use), acting on another user needs every permission
that user holds, Keystone receipts are single-use and counted, and turning on an organisation's
second-factor mandate revokes what was issued without one. The exhaustive, derived version of the
first two is ``test_privilege_matrix``."""

from __future__ import annotations

from typing import Any

import pytest

from hexagone.identity import totp
from tests.helpers import PASSWORD, Api, Session

pytestmark = pytest.mark.integration


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def grant_id(op: Session, user_id: str, role: str) -> str:
    grants = op.ok("GET", f"/v1/role-grants?user_id={user_id}")["items"]
    return str(next(g["id"] for g in grants if g["role"] == role))


# --- API keys ---------------------------------------------------------------------------------


def test_a_member_cannot_mint_a_billing_key(api: Api) -> None:
    """The reproduced escalation: billing is not 'below' member, it is a different set."""
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, member = api.user(op, c["id"], ["member"])
    r = member.post("/v1/api-keys", json={"name": "k", "scope_type": "org", "scope_id": c["id"], "role": "billing"})
    assert r.status_code == 403, r.text
    assert "billing.read" in r.json()["detail"]
    # a key within the member's own set is fine
    member.ok("POST", "/v1/api-keys", {"name": "k2", "scope_type": "org", "scope_id": c["id"], "role": "reader"})


def test_a_key_is_refused_once_its_creator_no_longer_holds_its_permissions(api: Api) -> None:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    u, admin = api.user(op, c["id"], ["admin"])
    org = {"scope_type": "org", "scope_id": c["id"]}
    billing = admin.ok("POST", "/v1/api-keys", {"name": "b", **org, "role": "billing"})
    reader = admin.ok("POST", "/v1/api-keys", {"name": "r", **org, "role": "reader"})
    assert api.client.get("/v1/auth/whoami", headers=bearer(billing["secret"])).status_code == 200
    # the administrator becomes a plain member: same rank as billing in the old ladder, not a superset
    op.ok("POST", "/v1/role-grants", {"user_id": u["id"], "role": "member", "scope_type": "org", "scope_id": c["id"]})
    op.ok("DELETE", f"/v1/role-grants/{grant_id(op, u['id'], 'admin')}")
    assert api.client.get("/v1/auth/whoami", headers=bearer(billing["secret"])).status_code == 401
    assert api.client.get("/v1/auth/whoami", headers=bearer(reader["secret"])).status_code == 200


# --- acting on another user -------------------------------------------------------------------


def test_an_admin_cannot_take_over_an_owner(api: Api) -> None:
    """The reproduced takeover, and every other way of acting on the owner."""
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    owner, owner_s = api.user(op, c["id"], ["owner"])
    _, admin = api.user(op, c["id"], ["admin"])
    key = owner_s.ok("POST", "/v1/api-keys", {"name": "o", "scope_type": "org", "scope_id": c["id"], "role": "reader"})
    path = f"/v1/users/{owner['id']}"
    for change in ({"password": "an-attackers-passphrase"}, {"enabled": False}, {"totp_reset": True},
                   {"email": "attacker@example.org"}, {"unlock": True}):
        r = admin.patch(path, json=change)
        assert r.status_code == 403, (change, r.text)
        assert "org.delete" in r.json()["detail"]
    assert admin.delete(path).status_code == 403
    assert admin.delete(f"/v1/role-grants/{grant_id(op, owner['id'], 'owner')}").status_code == 403
    assert admin.post("/v1/role-grants", json={"user_id": owner["id"], "role": "reader", "scope_type": "org",
                                               "scope_id": c["id"]}).status_code == 403
    assert admin.delete(f"/v1/api-keys/{key['id']}").status_code == 403
    # nothing changed: the owner still logs in with its own password, its key still works
    api.login(owner["name"], PASSWORD)
    assert api.client.get("/v1/auth/whoami", headers=bearer(key["secret"])).status_code == 200


def test_an_owner_may_act_on_an_admin_and_reset_its_second_factor(api: Api, rt: Any) -> None:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, owner = api.user(op, c["id"], ["owner"])
    adm, adm_s = api.user(op, c["id"], ["admin"])
    begun = adm_s.ok("POST", "/v1/auth/totp")
    step = totp.step_of(rt.clock.now().timestamp())
    adm_s.ok("POST", "/v1/auth/totp/confirm", {"code": totp.code_at(begun["secret"], step)}, status=200)
    out = owner.ok("PATCH", f"/v1/users/{adm['id']}", {"totp_reset": True})
    assert out["totp_enabled"] is False
    assert adm_s.get("/v1/auth/whoami").status_code == 401  # its tokens went with it
    api.login(adm["name"], PASSWORD)  # a password alone works again
    owner.ok("PATCH", f"/v1/users/{adm['id']}", {"password": "a-new-long-passphrase"})


def test_granting_a_role_needs_all_its_permissions(api: Api) -> None:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    p = api.project(op, c["id"])
    _, admin = api.user(op, c["id"], ["admin"])
    u, _ = api.user(op, c["id"], [])
    body = {"user_id": u["id"], "scope_type": "project", "scope_id": p["id"]}
    assert admin.post("/v1/role-grants", json={**body, "role": "owner"}).status_code == 403
    admin.ok("POST", "/v1/role-grants", {**body, "role": "billing"})
    # nor can an administrator make itself an owner
    me = admin.user["id"]
    r = admin.post("/v1/role-grants", json={"user_id": me, "role": "owner", "scope_type": "org", "scope_id": c["id"]})
    assert r.status_code == 403
    # creating a user with a role goes through the same check
    r = admin.post("/v1/users", json={"org_id": c["id"], "name": "newowner", "password": PASSWORD, "roles": ["owner"]})
    assert r.status_code == 403


def test_an_operator_admin_cannot_act_on_the_operator_owner(api: Api) -> None:
    op = api.admin()
    root = api.root_id(op)
    _, opadmin = api.user(op, root, ["admin"])
    owner_id = op.user["id"]
    assert opadmin.patch(f"/v1/users/{owner_id}", json={"password": "an-attackers-passphrase"}).status_code == 403


# --- Keystone receipts ------------------------------------------------------------------------


def _receipt_world(api: Api, rt: Any) -> tuple[str, int]:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer", name="rcpt")
    api.project(op, c["id"], name="rcpt-proj")
    _, s = api.user(op, c["id"], ["member"], name="rcpt-user")
    secret = s.ok("POST", "/v1/auth/totp")["secret"]
    step = totp.step_of(rt.clock.now().timestamp())
    s.ok("POST", "/v1/auth/totp/confirm", {"code": totp.code_at(secret, step)}, status=200)
    rt.clock.advance(30)
    return secret, step + 1


def _password(api: Api) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "rcpt-user", "password": PASSWORD, "domain": {"name": "Default"}}}}}}
    r = api.client.post("/identity/v3/auth/tokens", json=body)
    assert r.status_code == 401 and "openstack-auth-receipt" in r.headers, r.text
    return str(r.headers["openstack-auth-receipt"])


def _with_receipt(api: Api, receipt: str | bytes, passcode: str) -> Any:
    body = {"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"name": "rcpt-user", "passcode": passcode}}}}}
    return api.client.post("/identity/v3/auth/tokens", json=body, headers={"Openstack-Auth-Receipt": receipt})


def test_a_receipt_works_once(api: Api, rt: Any) -> None:
    secret, step = _receipt_world(api, rt)
    receipt = _password(api)
    assert _with_receipt(api, receipt, totp.code_at(secret, step)).status_code == 201
    rt.clock.advance(30)
    assert _with_receipt(api, receipt, totp.code_at(secret, step + 1)).status_code == 401
    # after a wrong passcode, the right one does not ride on the same receipt either
    receipt = _password(api)
    assert _with_receipt(api, receipt, "000000").status_code == 401
    assert _with_receipt(api, receipt, totp.code_at(secret, step + 1)).status_code == 401
    assert _with_receipt(api, _password(api), totp.code_at(secret, step + 1)).status_code == 201


def test_wrong_passcodes_after_receipts_lock_the_account(api: Api, rt: Any) -> None:
    secret, step = _receipt_world(api, rt)
    for _ in range(rt.settings.login_max_failures):
        assert _with_receipt(api, _password(api), "000000").status_code == 401
    # locked: the password alone no longer even yields a receipt, and a right code is refused
    body = {"auth": {"identity": {"methods": ["password", "totp"], "password": {"user": {
        "name": "rcpt-user", "password": PASSWORD}}, "totp": {"user": {"passcode": totp.code_at(secret, step)}}}}}
    assert api.client.post("/identity/v3/auth/tokens", json=body).status_code == 401
    rt.clock.advance(rt.settings.login_lockout_seconds + 1)
    assert _with_receipt(api, _password(api), totp.code_at(secret, step + 31)).status_code == 201


def test_a_non_ascii_receipt_is_a_401(api: Api, rt: Any) -> None:
    _receipt_world(api, rt)
    r = _with_receipt(api, "x.9999999999.é".encode(), "123456")
    assert r.status_code == 401


# --- the second-factor mandate ----------------------------------------------------------------


def test_turning_the_mandate_on_revokes_password_only_tokens_and_keys(api: Api, rt: Any) -> None:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    p = api.project(op, c["id"])
    _, plain = api.user(op, c["id"], ["admin"])
    key = plain.ok("POST", "/v1/api-keys", {"name": "k", "scope_type": "org", "scope_id": c["id"], "role": "member"})
    mfa_u, mfa_s = api.user(op, c["id"], ["member"])
    secret = mfa_s.ok("POST", "/v1/auth/totp")["secret"]
    step = totp.step_of(rt.clock.now().timestamp())
    mfa_s.ok("POST", "/v1/auth/totp/confirm", {"code": totp.code_at(secret, step)}, status=200)
    rt.clock.advance(30)
    strong = api.login(mfa_u["name"], PASSWORD, totp_code=totp.code_at(secret, step + 1))
    strong_key = strong.ok("POST", "/v1/api-keys", {"name": "s", "scope_type": "project", "scope_id": p["id"],
                                                    "role": "reader"})
    for s in (plain, strong):
        assert s.get(f"/v1/projects/{p['id']}").status_code == 200

    op.ok("PATCH", f"/v1/organisations/{c['id']}", {"mfa_required": True})

    assert plain.get(f"/v1/projects/{p['id']}").status_code == 401
    assert api.client.get(f"/v1/projects/{p['id']}", headers=bearer(key["secret"])).status_code == 401
    assert api.client.get(f"/v1/projects/{p['id']}", headers=bearer(strong_key["secret"])).status_code == 401
    assert strong.get(f"/v1/projects/{p['id']}").status_code == 200  # issued with a second factor
    records = op.ok("GET", "/v1/audit/events?action=org.mfa_mandate")["items"]
    assert records and records[0]["details"] == {"tokens_revoked": 2, "api_keys_revoked": 2}
    # turning it on again (already on) revokes nothing more
    op.ok("PATCH", f"/v1/organisations/{c['id']}", {"mfa_required": True})
    assert strong.get(f"/v1/projects/{p['id']}").status_code == 200


def test_a_password_only_token_that_escaped_revocation_acts_restricted(api: Api, rt: Any) -> None:
    """Belt and braces at each use: the mandate is read with the token, not only enforced once."""
    from sqlalchemy import update

    from hexagone.db.models import Organisation

    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    p = api.project(op, c["id"])
    _, plain = api.user(op, c["id"], ["admin"])
    with rt.db.write() as s:  # as if the mandate were turned on without going through update_org
        s.execute(update(Organisation).where(Organisation.id == c["id"]).values(mfa_required=True))
    r = plain.get(f"/v1/projects/{p['id']}")
    assert r.status_code == 403 and "second factor" in r.json()["detail"]


def test_an_operator_admin_cannot_revoke_the_operator_owners_keystone_token(api: Api) -> None:
    """The same class through the Keystone facade: revoking another user's token is acting on it."""
    from tests.conftest import ADMIN_PASSWORD

    op = api.admin()
    api.user(op, api.root_id(op), ["admin"], name="opadmin")

    def keystone(name: str, password: str) -> str:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": name, "password": password, "domain": {"id": "default"}}}}}}
        r = api.client.post("/identity/v3/auth/tokens", json=body)
        assert r.status_code == 201, r.text
        return str(r.headers["x-subject-token"])

    owner_tok, admin_tok = keystone("admin", ADMIN_PASSWORD), keystone("opadmin", PASSWORD)
    r = api.client.delete("/identity/v3/auth/tokens", headers={"X-Auth-Token": admin_tok, "X-Subject-Token": owner_tok})
    assert r.status_code == 403, r.text
    assert api.client.get("/v1/auth/whoami", headers=bearer(owner_tok)).status_code == 200
    r = api.client.delete("/identity/v3/auth/tokens", headers={"X-Auth-Token": owner_tok, "X-Subject-Token": admin_tok})
    assert r.status_code == 204
    assert api.client.get("/v1/auth/whoami", headers=bearer(admin_tok)).status_code == 401
