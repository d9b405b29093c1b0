"""Atomic placement and quotas under concurrency, residency, anti-affinity, crash in the middle of a
create. Hosts here have no agent: instances stay BUILDING, which is all placement needs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hexagone.compute import hosts as hosts_mod
from tests.integration.compute_helpers import add_flavor, fake_host, server_body, tenant
from tests.live import live_server

pytestmark = pytest.mark.integration


def _raise_quota(t, instances=1000, vcpus=1000):
    op_headers = t.admin.headers  # customer admin sets its project quota
    r = t.admin.client.put(
        f"/v1/quotas/project/{t.project['id']}",
        json={"instances": instances, "vcpus": vcpus, "ram_mb": 10**7, "disk_gb": 10**6},
        headers=op_headers,
    )
    assert r.status_code == 200, r.text


def test_fifty_concurrent_creates_against_capacity_for_twenty(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    op = api.admin()
    op.ok("PUT", f"/v1/quotas/org/{t.org['id']}", {"instances": 1000, "vcpus": 1000, "ram_mb": 10**7, "disk_gb": 10**6})
    _raise_quota(t)
    fake_host(rt, "cap-a", vcpus=12, ram_mb=10**6, disk_gb=10**5)
    fake_host(rt, "cap-b", vcpus=8, ram_mb=10**6, disk_gb=10**5)
    with live_server(rt) as url:

        def create(i: int) -> int:
            with httpx.Client(base_url=url, headers=t.member.headers, timeout=60) as c:
                return c.post("/v1/instances", json=server_body(t, name=f"c{i}")).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(create, range(50)))
    assert codes.count(202) == 20, codes
    assert codes.count(409) == 30, codes
    hosts = {h["name"]: h for h in op.ok("GET", "/v1/hosts")["items"]}
    assert hosts["cap-a"]["vcpus_used"] == 12 and hosts["cap-b"]["vcpus_used"] == 8
    listed = t.member.ok("GET", f"/v1/instances?project_id={t.project['id']}&limit=100")["items"]
    assert len(listed) == 20


def test_quota_is_atomic_under_concurrency(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    fake_host(rt, "big", vcpus=64, ram_mb=10**6, disk_gb=10**5)
    t.admin.ok("PUT", f"/v1/quotas/project/{t.project['id']}", {"instances": 3})
    with live_server(rt) as url:

        def create(i: int) -> httpx.Response:
            with httpx.Client(base_url=url, headers=t.member.headers, timeout=60) as c:
                return c.post("/v1/instances", json=server_body(t, name=f"q{i}"))

        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(create, range(10)))
    codes = [r.status_code for r in results]
    assert codes.count(202) == 3 and codes.count(403) == 7, codes
    refused = next(r for r in results if r.status_code == 403).json()
    assert refused["type"].endswith("quota-exceeded") and "instances" in refused["detail"]
    usage = t.member.ok("GET", f"/v1/quotas/project/{t.project['id']}")["resources"]
    assert usage["instances"] == {"limit": 3, "in_use": 3}


def test_residency_policy_refuses_other_countries(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    fake_host(rt, "fr-1")
    op = api.admin()
    op.ok("PATCH", f"/v1/organisations/{t.org['id']}", {"residency": {"allowed_countries": ["DE"]}})
    r = t.member.post("/v1/instances", json=server_body(t))
    assert r.status_code == 409 and "residency rejected 1" in r.json()["detail"]
    op.ok("PATCH", f"/v1/organisations/{t.org['id']}", {"residency": {"allowed_countries": ["FR", "DE"]}})
    assert t.member.post("/v1/instances", json=server_body(t)).status_code == 202


def test_anti_affinity_spreads_over_hosts(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    fake_host(rt, "aa-1")
    fake_host(rt, "aa-2")
    g = t.member.ok(
        "POST", "/v1/server-groups", {"project_id": t.project["id"], "name": "web", "policy": "anti-affinity"}
    )
    placed = [
        t.member.ok("POST", "/v1/instances", server_body(t, name=f"w{i}", server_group_id=g["id"]), status=202)
        for i in range(2)
    ]
    assert placed[0]["host_id"] != placed[1]["host_id"]
    third = t.member.post("/v1/instances", json=server_body(t, name="w3", server_group_id=g["id"]))
    assert third.status_code == 409 and "anti_affinity" in third.json()["detail"]


def test_crash_in_the_middle_of_a_create_leaves_nothing(api, rt, tmp_path, client, monkeypatch):
    t = tenant(api, rt, tmp_path)
    fake_host(rt, "crashy")

    def boom(*a, **k):
        raise RuntimeError("simulated crash after the claim")

    monkeypatch.setattr(hosts_mod, "wake", boom)
    r = t.member.post("/v1/instances", json=server_body(t))
    assert r.status_code == 500
    monkeypatch.undo()
    op = api.admin()
    host = op.ok("GET", "/v1/hosts")["items"][0]
    assert host["vcpus_used"] == 0 and host["instances"] == 0
    assert t.member.ok("GET", "/v1/instances")["items"] == []


def test_flavor_too_big_for_any_host(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    fake_host(rt, "small-host", vcpus=2)
    add_flavor(rt, "huge", 64, 1024, 10)
    t.admin.ok("PUT", f"/v1/quotas/project/{t.project['id']}", {"vcpus": 1000})
    api.admin().ok("PUT", f"/v1/quotas/org/{t.org['id']}", {"vcpus": 1000})
    r = t.member.post("/v1/instances", json=server_body(t, flavor="huge"))
    assert r.status_code == 409 and "capacity rejected 1" in r.json()["detail"]


def test_other_tenants_instances_are_404(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    fake_host(rt, "iso")
    iid = t.member.ok("POST", "/v1/instances", server_body(t), status=202)["id"]
    op = api.admin()
    other = api.org(op, api.root_id(op), "customer")
    _, stranger = api.user(op, other["id"], ["admin"])
    assert stranger.get(f"/v1/instances/{iid}").status_code == 404
    assert stranger.delete(f"/v1/instances/{iid}").status_code == 404
    assert stranger.post(f"/v1/instances/{iid}/action", json={"action": "stop"}).status_code == 404
    assert stranger.get(f"/v1/instances/{iid}/console").status_code == 404
    assert stranger.ok("GET", "/v1/instances")["items"] == []
    assert stranger.post("/v1/instances", json=server_body(t)).status_code == 404
