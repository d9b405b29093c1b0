"""Hostile and malformed input: every refusal is a problem+json 4xx, never a 500, never a partial write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hexagone.ids import new_id
from tests.helpers import PASSWORD

pytestmark = pytest.mark.integration

PROBLEM_KEYS = {"type", "title", "status", "detail", "request_id"}


def problem(r: Any, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, f"{r.status_code} (expected {status}): {r.text[:300]}"
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    body = r.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == status and body["request_id"] and body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    if type_suffix:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body


@pytest.fixture
def ctx(api: Any) -> Iterator[Any]:
    op = api.admin()
    root = api.root_id(op)
    cust = api.org(op, root, "customer", "Hostile")
    yield api, op, root, cust


def test_malformed_json_is_400(ctx):
    api, op, _, _ = ctx
    for raw in (b'{"org_id": ', b"{'single': 'quotes'}", b"\xff\xfe\x00", b'{"a": 1,}', b"NaN-ish"):
        r = op.post("/v1/projects", content=raw, headers={"content-type": "application/json"})
        problem(r, 400, "malformed-json")


def test_wrong_content_type_is_refused(ctx):
    _, op, _, cust = ctx
    body = json.dumps({"org_id": cust["id"], "name": "p"})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = op.post("/v1/projects", content=body, headers={"content-type": ctype})
        assert r.status_code in (415, 422), r.text
        problem(r, r.status_code)
    assert op.ok("GET", "/v1/projects")["items"] == []


def test_schema_violations_are_422_with_field_errors(ctx):
    _, op, root, cust = ctx
    r = op.post("/v1/organisations", json={"parent_id": root, "kind": "emperor", "name": ""})
    body = problem(r, 422, "validation")
    fields = {e["field"] for e in body["errors"]}
    assert {"kind", "name"} <= fields, body
    body = problem(op.post("/v1/projects", json={"name": 42}), 422, "validation")
    assert {"org_id", "name"} <= {e["field"] for e in body["errors"]}
    problem(op.post("/v1/projects", json=[1, 2, 3]), 422, "validation")
    problem(
        op.post(
            "/v1/role-grants", json={"user_id": "x", "role": "god", "scope_type": "org", "scope_id": "x"}
        ),
        422,
        "validation",
    )


def test_unknown_fields_are_refused(ctx):
    _, op, root, cust = ctx
    body = problem(op.post("/v1/projects", json={"org_id": cust["id"], "name": "p", "owner": "me"}), 422)
    assert body["errors"][0]["field"] == "owner"
    problem(op.patch(f"/v1/organisations/{cust['id']}", json={"kind": "operator"}), 422)
    problem(
        op.post(
            "/v1/organisations",
            json={
                "parent_id": root,
                "kind": "customer",
                "name": "x",
                "residency": {"allowed_planets": ["Mars"]},
            },
        ),
        422,
    )
    assert op.ok("GET", f"/v1/organisations/{cust['id']}")["kind"] == "customer"


def test_oversized_body_is_413_with_content_length(ctx, rt):
    _, op, _, cust = ctx
    big = json.dumps(
        {"org_id": cust["id"], "name": "p", "description": "x" * (rt.settings.max_body_bytes + 10)}
    )
    problem(
        op.post("/v1/projects", content=big, headers={"content-type": "application/json"}),
        413,
        "payload-too-large",
    )
    lie = op.post(
        "/v1/projects",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "not-a-number"},
    )
    assert lie.status_code in (400, 413)


def test_oversized_body_is_413_when_streamed_without_content_length(ctx, rt):
    _, op, _, _ = ctx
    chunk = b" " * 65536

    def stream() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(rt.settings.max_body_bytes // len(chunk) + 2):
            yield chunk

    r = op.post("/v1/projects", content=stream(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    problem(r, 413, "payload-too-large")
    assert op.ok("GET", "/v1/projects")["items"] == []


def test_overly_long_strings_are_422(ctx):
    _, op, root, cust = ctx
    problem(op.post("/v1/projects", json={"org_id": cust["id"], "name": "p" * 101}), 422)
    problem(
        op.post("/v1/organisations", json={"parent_id": root, "kind": "customer", "name": "n" * 201}), 422
    )
    problem(op.post("/v1/users", json={"org_id": cust["id"], "name": "u", "password": "p" * 1025}), 422)
    problem(op.post("/v1/auth/login", json={"username": "a" * 101, "password": "x"}), 422)
    problem(op.get("/v1/organisations?name=" + "n" * 201), 422)
    problem(
        op.post(
            "/v1/projects", json={"org_id": cust["id"], "name": "p"}, headers={"Idempotency-Key": "k" * 256}
        ),
        422,
    )


def test_deeply_nested_json_is_refused_cleanly(ctx):
    _, op, _, _ = ctx
    for raw in (b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000):
        r = op.post("/v1/projects", content=raw, headers={"content-type": "application/json"})
        assert r.status_code in (400, 422), r.text[:200]
        problem(r, r.status_code)


def test_nul_bytes_and_control_characters_are_refused(ctx):
    _, op, root, cust = ctx
    for name in ("a\x00b", "bell\x07", "esc\x1b[31m", "del\x7f"):
        problem(op.post("/v1/projects", json={"org_id": cust["id"], "name": name}), 422)
        problem(op.post("/v1/organisations", json={"parent_id": root, "kind": "customer", "name": name}), 422)
    problem(op.post("/v1/auth/login", json={"username": "ad\x00min", "password": "x"}), 422)
    problem(op.get("/v1/projects?name=a%00b"), 400)
    problem(op.get("/v1/regions/a%00b"), 400)
    problem(op.get(f"/v1/organisations/{cust['id']}%00"), 400)
    assert op.ok("GET", "/v1/projects")["items"] == []


ODD_NAMES = [
    "Équipe données",
    "日本語プロジェクト",
    "emoji 🚀 ☁️",
    "\u202eevil",
    "zero\u200bwidth",
    "tab\tand newline\nin the middle",
    "  padded  ",
]


def test_odd_unicode_names_round_trip(ctx):
    _, op, _, cust = ctx
    for name in ODD_NAMES:
        p = op.ok("POST", "/v1/projects", {"org_id": cust["id"], "name": name})
        assert op.ok("GET", f"/v1/projects/{p['id']}")["name"] == name.strip()


def test_login_names_are_plain_ascii(ctx):
    _, op, _, cust = ctx
    for name in ("ålice", "bob smith", "carol\u200b", ".dot"):
        problem(op.post("/v1/users", json={"org_id": cust["id"], "name": name, "password": PASSWORD}), 400)


BAD_ID_PATHS = [
    "/v1/projects/not-a-uuid",
    "/v1/projects/" + "x" * 3000,
    "/v1/users/1 OR 1=1",
    "/v1/organisations/'; DROP TABLE users; --",
    "/v1/role-grants/..%2F..%2Fetc",
    "/v1/api-keys/%E2%80%AE",
    "/v1/regions/" + "r" * 500,
    "/v1/users/00000000-0000-0000-0000-000000000000",
]


def test_invalid_ids_in_paths_are_404(ctx):
    _, op, _, _ = ctx
    for path in BAD_ID_PATHS:
        for method in ("GET", "PATCH", "DELETE"):
            r = op.client.request(method, path, headers=op.headers, json={} if method == "PATCH" else None)
            if r.status_code == 405:
                continue
            problem(r, 404, "not-found")


def test_bad_cursor_is_400(ctx):
    _, op, _, _ = ctx
    for cursor in ("!!!!", "A" * 150, "%FF%FE", "bm90LWEtcmVhbC1jdXJzb3I"):
        r = op.get(f"/v1/projects?cursor={cursor}")
        assert r.status_code in (200, 400), r.text
        if r.status_code == 400:
            problem(r, 400, "invalid-input")
    problem(op.get("/v1/projects?cursor=!!!!"), 400, "invalid-input")
    problem(op.get("/v1/audit/events?cursor=abc"), 422)
    problem(op.get("/v1/projects?cursor=" + "A" * 201), 422)


def test_bad_limits_are_422(ctx):
    _, op, _, _ = ctx
    for limit in ("-1", "0", "1001", "99999999999999999999999", "1e3", "ten", ""):
        for path in ("/v1/projects", "/v1/users", "/v1/audit/events", "/v1/organisations", "/v1/api-keys"):
            problem(op.get(f"{path}?limit={limit}"), 422, "validation")


AUTH_GARBAGE = [
    b"Basic YWRtaW46YWRtaW4=",
    b"Bearer",
    b"Bearer ",
    b"bearer  \t",
    b"Token abc",
    b"Bearer \xff\xfe",
    b"\xff\xfe",
    b"Bearer hxk_garbage",
    b"Bearer hxt_" + b"a" * 4000,
    b"Bearer a b c",
    b"Bearer " + b"hxk_" + b"x" * 100,
]


def test_authorization_garbage_is_401(ctx):
    api, _, _, _ = ctx
    for header in AUTH_GARBAGE:
        r = api.client.get("/v1/projects", headers={"Authorization": header})
        problem(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_api_key_header_garbage_is_401(ctx):
    api, _, _, _ = ctx
    for value in (b"hxk_" + b"a" * 5000, b"\xc3\x28", b"hxk_1_2_3"):
        problem(api.client.get("/v1/projects", headers={"X-Api-Key": value}), 401)


def test_naive_datetimes_are_refused(ctx):
    _, op, _, cust = ctx
    problem(
        op.post(
            "/v1/api-keys",
            json={
                "name": "k",
                "scope_type": "org",
                "scope_id": cust["id"],
                "role": "reader",
                "expires_at": "2030-01-01T00:00:00",
            },
        ),
        422,
    )
    problem(op.get("/v1/audit/events?since=2026-01-01T00:00:00"), 422)  # the schema's date-time has an offset
    problem(op.get("/v1/audit/events?since=yesterday"), 422)


def test_unknown_route_and_method(ctx):
    _, op, _, _ = ctx
    problem(op.get("/v1/nothing-here"), 404)
    problem(op.client.request("PUT", "/v1/projects", headers=op.headers), 405)


def test_a_user_create_whose_role_grant_fails_leaves_nothing_behind(ctx, api):
    _, op, _, cust = ctx
    _, admin = api.user(op, cust["id"], ["admin"])
    before = op.ok("GET", "/v1/audit/events?limit=1000")["items"]
    r = admin.post(
        "/v1/users",
        json={
            "org_id": cust["id"],
            "name": "would-be-owner",
            "password": PASSWORD,
            "roles": ["reader", "owner"],
        },
    )
    problem(r, 403, "forbidden")
    assert op.ok("GET", "/v1/users?name=would-be-owner")["items"] == []
    after = op.ok("GET", "/v1/audit/events?limit=1000")["items"]
    assert [e["seq"] for e in after] == [e["seq"] for e in before]
    assert not [
        e
        for e in after
        if e["action"] in ("user.create", "role.grant") and e["details"].get("name") == "would-be-owner"
    ]
    # the login name is free: the same request by someone allowed succeeds
    op.ok(
        "POST",
        "/v1/users",
        {"org_id": cust["id"], "name": "would-be-owner", "password": PASSWORD, "roles": ["reader", "owner"]},
    )


def test_a_failed_change_leaves_no_audit_record_and_no_idempotency_record(ctx, api):
    _, op, _, cust = ctx
    before = op.ok("GET", "/v1/audit/events?limit=1000")["items"]
    h = {"Idempotency-Key": "retry-me"}
    bad = op.post(
        "/v1/organisations", json={"parent_id": cust["id"], "kind": "customer", "name": "x"}, headers=h
    )
    problem(bad, 400)
    problem(op.post("/v1/projects", json={"org_id": new_id(), "name": "p"}), 404)
    p = api.project(op, cust["id"], "dup")
    problem(op.post("/v1/projects", json={"org_id": cust["id"], "name": "dup"}), 409, "conflict")
    problem(op.patch(f"/v1/projects/{p['id']}", json={"name": "x" * 101}), 422)
    after = op.ok("GET", "/v1/audit/events?limit=1000")["items"]
    new = [e["action"] for e in after if e["seq"] > before[-1]["seq"]]
    assert new == ["project.create"], new
    # the failed request stored no idempotent answer: the key is still free for a different request
    ok = op.post(
        "/v1/organisations", json={"parent_id": api.root_id(op), "kind": "customer", "name": "y"}, headers=h
    )
    assert ok.status_code == 201, ok.text
    assert op.ok("GET", "/v1/audit/verify")["ok"]


def test_request_ids_are_echoed_or_generated(ctx):
    api, _, _, _ = ctx
    r = api.client.get("/v1/health", headers={"X-Request-Id": "client-chosen-1"})
    assert r.headers["x-request-id"] == "client-chosen-1"
    r = api.client.get("/v1/health", headers={"X-Request-Id": "x" * 65})
    assert r.headers["x-request-id"].startswith("req-")
    r = api.client.get("/v1/nothing", headers={"X-Request-Id": "bad\tid"})
    assert problem(r, 404)["request_id"].startswith("req-")


# --- the OpenStack facade ------------------------------------------------------------------------
# The facade takes the clients' JSON as it comes (dicts, not models), so every field it reads must
# be checked for type, size and characters before it reaches the areas and the database: PostgreSQL
# refuses a NUL inside text, which used to surface as a 500.

HOSTILE_VALUES: list[Any] = [
    "a\x00b", "\x00", "bell\x07", "esc\x1b[31m", "del\x7f", "x" * 70_000, "y" * 5000, 42, -1, 1.5, None, True,
    ["list"], {"dict": 1}, "",
]


@pytest.fixture
def facade(api: Any, rt: Any, tmp_path: Any) -> Any:
    from hexagone.bootstrap import ensure_catalogue
    from tests.integration.compute_helpers import fake_host
    from tests.integration.test_openstack_api import customer, h

    ensure_catalogue(rt, None)
    fake_host(rt, "host-1", capabilities={"accel": "fake", "network_cidr": "10.200.0.0/24"})
    c = customer(api, api.admin(), tmp_path, "hostile")
    client = api.client
    hdr = h(c.token)
    tiny = next(f["id"] for f in client.get("/compute/v2.1/flavors", headers=hdr).json()["flavors"]
                if f["name"] == "tiny")
    server = client.post("/compute/v2.1/servers", headers=hdr, json={"server": {
        "name": "victim", "imageRef": c.image_id, "flavorRef": tiny, "networks": "auto"}}).json()["server"]
    net = client.post("/networking/v2.0/networks", headers=hdr, json={"network": {"name": "n"}}).json()["network"]
    image = client.post("/image/v2/images", headers=hdr, json={
        "name": "img", "disk_format": "qcow2", "container_format": "bare"}).json()
    return {"c": c, "h": hdr, "tiny": tiny, "server": server["id"], "net": net["id"], "image": image["id"]}


def facade_requests(f: dict[str, Any], v: Any) -> list[tuple[str, str, Any]]:
    c = f["c"]
    return [
        ("POST", "/compute/v2.1/servers",
         {"server": {"name": v, "imageRef": c.image_id, "flavorRef": f["tiny"], "networks": "auto"}}),
        ("POST", "/compute/v2.1/servers",
         {"server": {"name": "ok", "imageRef": v, "flavorRef": f["tiny"], "networks": "auto"}}),
        ("POST", "/compute/v2.1/servers",
         {"server": {"name": "ok", "imageRef": c.image_id, "flavorRef": v, "networks": "auto"}}),
        ("POST", "/compute/v2.1/servers",
         {"server": {"name": "ok", "imageRef": c.image_id, "flavorRef": f["tiny"], "networks": v}}),
        ("POST", "/compute/v2.1/servers", {"server": {"name": "ok", "imageRef": c.image_id,
         "flavorRef": f["tiny"], "networks": "auto", "metadata": {"k": v}}}),
        ("POST", "/compute/v2.1/servers", {"server": {"name": "ok", "imageRef": c.image_id,
         "flavorRef": f["tiny"], "networks": "auto", "key_name": v}}),
        ("POST", "/compute/v2.1/servers", {"server": {"name": "ok", "imageRef": c.image_id,
         "flavorRef": f["tiny"], "networks": "auto", "user_data": v}}),
        ("POST", "/compute/v2.1/servers", {"server": {"name": "ok", "imageRef": c.image_id,
         "flavorRef": f["tiny"], "networks": "auto", "availability_zone": v}}),
        ("POST", "/compute/v2.1/servers", {"server": v}),
        ("PUT", f"/compute/v2.1/servers/{f['server']}", {"server": {"name": v}}),
        ("PUT", f"/compute/v2.1/servers/{f['server']}", {"server": {"accessIPv4": v}}),
        ("POST", f"/compute/v2.1/servers/{f['server']}/action", {"reboot": {"type": v}}),
        ("POST", f"/compute/v2.1/servers/{f['server']}/action", {v if isinstance(v, str) else "x": None}),
        ("POST", "/compute/v2.1/os-keypairs", {"keypair": {"name": v}}),
        ("POST", "/compute/v2.1/os-keypairs", {"keypair": {"name": "k", "public_key": v}}),
        ("POST", "/compute/v2.1/os-server-groups", {"server_group": {"name": v, "policies": ["affinity"]}}),
        ("POST", "/compute/v2.1/os-server-groups", {"server_group": {"name": "g", "policies": [v]}}),
        ("POST", "/image/v2/images", {"name": v, "disk_format": "qcow2", "container_format": "bare"}),
        ("POST", "/image/v2/images", {"name": "i", "disk_format": v, "container_format": "bare"}),
        ("POST", "/image/v2/images", {"name": "i", "disk_format": "qcow2", "container_format": "bare",
                                      "os_distro": v}),
        ("PATCH", f"/image/v2/images/{f['image']}", [{"op": "replace", "path": "/name", "value": v}]),
        ("PATCH", f"/image/v2/images/{f['image']}", [{"op": "add", "path": "/custom", "value": v}]),
        ("PATCH", f"/image/v2/images/{f['image']}", [{"op": v, "path": "/name", "value": "x"}]),
        ("POST", "/networking/v2.0/networks", {"network": {"name": v}}),
        ("PUT", f"/networking/v2.0/networks/{f['net']}", {"network": {"name": v}}),
        ("POST", "/networking/v2.0/subnets", {"subnet": {"network_id": f["net"], "cidr": v, "ip_version": 4}}),
        ("POST", "/networking/v2.0/subnets", {"subnet": {"network_id": f["net"], "cidr": "10.9.0.0/24",
                                                         "ip_version": 4, "name": v}}),
        ("POST", "/networking/v2.0/subnets", {"subnet": {"network_id": v, "cidr": "10.9.0.0/24"}}),
        ("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": v, "password": "x", "domain": {"name": "Default"}}}}}}),
        ("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": "hostile-member", "password": v, "domain": {"name": v}}}}}}),
        ("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": "hostile-member", "password": PASSWORD, "domain": {"name": "hostile"}}}},
            "scope": {"project": {"name": v, "domain": {"name": "hostile"}}}}}),
        ("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": v}}}),
        ("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": ["token"], "token": {"id": v}}}}),
        ("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": ["totp"], "totp": {
            "user": {"name": "hostile-member", "passcode": v, "domain": {"name": "hostile"}}}}}}),
    ]


def test_facade_bodies_with_hostile_values_are_4xx_never_500(facade: Any, api: Any) -> None:
    client, failures = api.client, []
    for v in HOSTILE_VALUES:
        for method, path, body in facade_requests(facade, v):
            ctype = "application/openstack-images-v2.1-json-patch" if method == "PATCH" else "application/json"
            r = client.request(method, path, content=json.dumps(body), headers={**facade["h"], "Content-Type": ctype})
            must_refuse = isinstance(v, str) and (any(ord(ch) < 32 or ord(ch) == 127 for ch in v) or len(v) > 65536)
            if r.status_code >= 500 or (must_refuse and not 400 <= r.status_code < 500):
                failures.append((method, path, repr(v)[:30], r.status_code, r.text[:120]))
    assert not failures, "\n".join(map(str, failures))


def test_facade_refusals_name_the_field_in_each_services_error_shape(facade: Any, api: Any) -> None:
    client, hdr = api.client, facade["h"]
    r = client.post("/compute/v2.1/os-keypairs", headers=hdr, json={"keypair": {"name": "a\x00b"}})
    assert r.status_code == 400 and "body.keypair.name" in r.json()["badRequest"]["message"]
    r = client.post("/networking/v2.0/networks", headers=hdr, json={"network": {"name": "a\x00b"}})
    assert r.status_code == 400 and "U+0000" in r.json()["NeutronError"]["message"]
    r = client.post("/image/v2/images", headers=hdr, json={"name": 42})
    assert r.status_code == 400 and r.json()["code"] == 400
    r = client.post("/identity/v3/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": "hostile-member", "password": "pw\x00", "domain": {"name": "hostile"}}}}}})
    assert r.status_code == 400 and r.json()["error"]["code"] == 400
    r = client.put(f"/compute/v2.1/servers/{facade['server']}", headers=hdr,
                   json={"server": {"name": "n", "metadata": {"k": "v" * 256}}})
    assert r.status_code < 500
    r = client.post("/compute/v2.1/os-server-groups", headers=hdr,
                    json={"server_group": {"name": "g" * 256, "policies": ["affinity"]}})
    assert r.status_code == 400, r.text


HEADER_GARBAGE = [b"\xff\xfe", "é".encode(), "jeton-ü".encode("latin-1"), b"a" * 5000, b"\x01x",
                  b"00000000-0000-0000-0000-000000000000.9999999999.\xc3\xa9",
                  "x.\u00b2\u00b3.mac".encode(), b"x.9999999999." + b"\xff" * 32]


def test_facade_non_ascii_and_garbage_headers_are_4xx(facade: Any, api: Any) -> None:
    client, failures = api.client, []
    from tests.integration.test_openstack_api import auth_body

    good = facade["h"]["X-Auth-Token"]
    for raw in HEADER_GARBAGE:
        probes = [
            ("GET", "/compute/v2.1/servers", {"X-Auth-Token": raw}, None),
            ("GET", "/image/v2/images", {"X-Auth-Token": raw}, None),
            ("GET", "/networking/v2.0/networks", {"X-Auth-Token": raw}, None),
            ("GET", "/identity/v3/auth/tokens", {"X-Auth-Token": good, "X-Subject-Token": raw}, None),
            ("HEAD", "/identity/v3/auth/tokens", {"X-Auth-Token": good, "X-Subject-Token": raw}, None),
            ("DELETE", "/identity/v3/auth/tokens", {"X-Auth-Token": good, "X-Subject-Token": raw}, None),
            ("GET", "/compute/v2.1/servers", {"X-Auth-Token": good, "OpenStack-API-Version": b"compute x" + raw}, None),
            ("POST", "/identity/v3/auth/tokens", {"Openstack-Auth-Receipt": raw}, {"auth": {"identity": {
                "methods": ["totp"], "totp": {"user": {"name": "hostile-member", "passcode": "123456",
                                                       "domain": {"name": "hostile"}}}}}}),
            ("POST", "/identity/v3/auth/tokens", {"Openstack-Auth-Receipt": raw},
             auth_body("hostile-member", "hostile-proj", "hostile")),
        ]
        for method, path, headers, body in probes:
            r = client.request(method, path, headers=headers, json=body)
            if not 400 <= r.status_code < 500 and not (path.endswith("tokens") and r.status_code == 201
                                                         and method == "POST"):
                failures.append((method, path, raw[:10], r.status_code, r.text[:100]))
    assert not failures, "\n".join(map(str, failures))
