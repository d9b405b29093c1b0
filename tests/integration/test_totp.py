"""Second factor through the API: enrolment, login with a code, replay, recovery codes, mandates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from hexagone.bootstrap import build_asgi, build_runtime, initialise
from hexagone.clock import FrozenClock
from hexagone.identity import totp
from tests import conftest
from tests.conftest import ADMIN_PASSWORD, START
from tests.helpers import PASSWORD, Api

pytestmark = pytest.mark.integration


def code(secret: str, clock: Any, offset: int = 0) -> str:
    return totp.code_at(secret, totp.step_of(clock.now().timestamp()) + offset)


def login(api: Any, name: str, **extra: Any) -> Any:
    return api.client.post("/v1/auth/login", json={"username": name, "password": PASSWORD, **extra})


def enrol(s: Any, clock: Any) -> tuple[str, list[str]]:
    begun = s.ok("POST", "/v1/auth/totp")
    assert begun["otpauth_uri"].startswith("otpauth://totp/")
    codes = s.ok("POST", "/v1/auth/totp/confirm", {"code": code(begun["secret"], clock)}, status=200)[
        "recovery_codes"
    ]
    return begun["secret"], codes


def test_enrol_confirm_then_login_needs_the_code(api, rt):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, s = api.user(op, c["id"], ["member"], name="dora")
    secret, recovery = enrol(s, rt.clock)
    assert len(recovery) == 10
    assert s.ok("GET", "/v1/auth/whoami")["user"]["totp_enabled"] is True

    r = login(api, "dora")
    assert r.status_code == 401 and r.json()["type"].endswith("/mfa-required")
    assert login(api, "dora", totp_code="000000").status_code == 401
    rt.clock.advance(30)
    good = code(secret, rt.clock)
    r = login(api, "dora", totp_code=good)
    assert r.status_code == 201 and r.json()["mfa"] is True
    # the same code again (a replay) is refused, even within its validity window
    replay = login(api, "dora", totp_code=good)
    assert replay.status_code == 401 and replay.json()["type"].endswith("/unauthenticated")
    rt.clock.advance(30)
    assert login(api, "dora", totp_code=code(secret, rt.clock)).status_code == 201


def test_confirm_with_a_wrong_code_does_not_enable(api, rt):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, s = api.user(op, c["id"], ["member"], name="erin")
    begun = s.ok("POST", "/v1/auth/totp")
    assert (
        s.post("/v1/auth/totp/confirm", json={"code": code(begun["secret"], rt.clock, 5)}).status_code == 400
    )
    assert s.ok("GET", "/v1/auth/whoami")["user"]["totp_enabled"] is False
    assert login(api, "erin").status_code == 201
    s.ok("POST", "/v1/auth/totp/confirm", {"code": code(begun["secret"], rt.clock)}, status=200)
    assert s.post("/v1/auth/totp").status_code == 409  # already enrolled


def test_a_recovery_code_works_once(api, rt):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, s = api.user(op, c["id"], ["member"], name="fred")
    _, recovery = enrol(s, rt.clock)
    assert login(api, "fred", recovery_code=recovery[0]).status_code == 201
    assert login(api, "fred", recovery_code=recovery[0]).status_code == 401
    assert login(api, "fred", recovery_code=recovery[1].upper()).status_code == 201
    assert login(api, "fred", recovery_code="aaaaa-bbbbb").status_code == 401


def test_disable_with_a_code_or_a_recovery_code(api, rt):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    _, s = api.user(op, c["id"], ["member"], name="gina")
    secret, recovery = enrol(s, rt.clock)
    assert s.post("/v1/auth/totp/disable", json={"code": "123456"}).status_code == 400
    s.ok("POST", "/v1/auth/totp/disable", {"code": recovery[0]}, status=204)
    assert login(api, "gina").status_code == 201
    rt.clock.advance(60)
    secret, _ = enrol(s, rt.clock)
    s.ok("POST", "/v1/auth/totp/disable", {"code": code(secret, rt.clock, 1)}, status=204)
    assert s.ok("GET", "/v1/auth/whoami")["user"]["totp_enabled"] is False


def test_second_factor_events_are_audited(api, rt):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    u, s = api.user(op, c["id"], ["member"], name="hugo")
    enrol(s, rt.clock)
    login(api, "hugo")
    actions = [
        (e["action"], e["result"])
        for e in op.ok("GET", f"/v1/audit/events?resource_id={u['id']}&limit=1000")["items"]
    ]
    assert ("auth.totp.begin", "success") in actions and ("auth.totp.enable", "success") in actions
    assert ("auth.login", "mfa_required") in actions


def test_organisation_mandate_restricts_tokens_until_enrolled(api, rt):
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer", mfa_required=True)
    p = api.project(op, c["id"])
    api.user(op, c["id"], ["admin"], name="ines")
    r = login(api, "ines")
    assert r.status_code == 201
    body = r.json()
    assert body["restricted"] is True and body["warnings"]
    h = {"Authorization": f"Bearer {body['token']}"}
    for method, path in (
        ("GET", f"/v1/projects/{p['id']}"),
        ("GET", "/v1/projects"),
        ("GET", f"/v1/organisations/{c['id']}"),
        ("GET", "/v1/regions"),
        ("POST", "/v1/projects"),
    ):
        res = api.client.request(
            method, path, headers=h, json={"org_id": c["id"], "name": "x"} if method == "POST" else None
        )
        assert res.status_code == 403, (method, path, res.text)
        assert "second factor" in res.json()["detail"]
    assert api.client.get("/v1/auth/whoami", headers=h).json()["restricted"] is True
    from tests.helpers import Session

    secret, _ = enrol(Session(api.client, body["token"]), rt.clock)
    rt.clock.advance(30)
    full = login(api, "ines", totp_code=code(secret, rt.clock))
    assert full.status_code == 201 and full.json()["restricted"] is False
    h = {"Authorization": f"Bearer {full.json()['token']}"}
    assert api.client.get(f"/v1/projects/{p['id']}", headers=h).status_code == 200
    # and the mandated second factor cannot be switched off
    rt.clock.advance(30)
    r = api.client.post("/v1/auth/totp/disable", json={"code": code(secret, rt.clock)}, headers=h)
    assert r.status_code == 403


@pytest.fixture
def strict_api(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, FrozenClock]]:
    """A multi-machine deployment: single_machine=False forces operator administrators to enrol."""
    clock = FrozenClock(START)
    runtime = build_runtime(
        conftest.test_settings(tmp_path / "strict", db_url, single_machine=False), clock=clock
    )
    initialise(runtime)
    with TestClient(build_asgi(runtime), raise_server_exceptions=False) as client:
        yield Api(client), clock
    runtime.db.dispose()


def test_operator_admins_are_forced_outside_single_machine(strict_api):
    api, clock = strict_api
    r = api.client.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201 and r.json()["restricted"] is True
    assert "operator administrators" in r.json()["warnings"][0]
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.client.get("/v1/organisations", headers=h).status_code == 403
    assert api.client.get("/v1/audit/verify", headers=h).status_code == 403
    from tests.helpers import Session

    secret, _ = enrol(Session(api.client, r.json()["token"]), clock)
    clock.advance(30)
    r = api.client.post(
        "/v1/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD, "totp_code": code(secret, clock)},
    )
    assert r.status_code == 201 and r.json()["restricted"] is False and r.json()["warnings"] == []
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.client.get("/v1/organisations", headers=h).status_code == 200


def test_operator_admins_are_only_warned_on_a_single_machine(api):
    r = api.client.post("/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201 and r.json()["restricted"] is False
    assert any("second factor" in w for w in r.json()["warnings"])
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.client.get("/v1/organisations", headers=h).status_code == 200


def test_customer_users_are_not_forced_outside_single_machine(strict_api):
    api, _ = strict_api
    op_login = api.client.post(
        "/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()
    assert op_login["restricted"] is True
    # a restricted operator cannot even create customers: the mandate is enforced before anything else
    h = {"Authorization": f"Bearer {op_login['token']}"}
    me = api.client.get("/v1/auth/whoami", headers=h).json()
    r = api.client.post(
        "/v1/organisations",
        headers=h,
        json={"parent_id": me["organisation"]["id"], "kind": "customer", "name": "x"},
    )
    assert r.status_code == 403
