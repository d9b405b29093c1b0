"""Instances end to end with the fake driver: API + a real HTTP server + an agent that reconciles."""

from __future__ import annotations

import pytest

from hexagone.compute import jobs
from hexagone.compute.driver import InstanceSpec
from hexagone.compute.drivers.fake import FakeDriver
from tests.integration.compute_helpers import server_body, tenant
from tests.live import AgentThread, live_server, wait_for

pytestmark = pytest.mark.integration


def state_of(s, iid):
    r = s.get(f"/v1/instances/{iid}")
    return r.json().get("state") if r.status_code == 200 else r.status_code


def test_instance_lifecycle_with_agent(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    driver = FakeDriver()
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        try:
            r = t.member.post("/v1/instances", json=server_body(t))
            assert r.status_code == 202, r.text
            inst = r.json()
            assert inst["state"] == "BUILDING"
            iid = inst["id"]
            wait_for(lambda: state_of(t.member, iid) == "RUNNING")
            assert t.member.ok("GET", f"/v1/instances/{iid}")["guest_ready"] in (True, False)
            assert [s.instance_id for s in driver.list_instances()] == [iid]

            t.member.ok("POST", f"/v1/instances/{iid}/action", {"action": "stop"}, status=202)
            wait_for(lambda: state_of(t.member, iid) == "STOPPED")
            t.member.ok("POST", f"/v1/instances/{iid}/action", {"action": "start"}, status=202)
            wait_for(lambda: state_of(t.member, iid) == "RUNNING")
            assert (
                t.member.ok("POST", f"/v1/instances/{iid}/action", {"action": "reboot"}, status=202)["state"]
                == "REBOOTING"
            )
            wait_for(lambda: state_of(t.member, iid) == "RUNNING")
            # a start on a running instance is accepted; a reboot of a deleting one is not
            t.member.ok("DELETE", f"/v1/instances/{iid}", status=202)
            wait_for(lambda: state_of(t.member, iid) == 404)
            assert driver.list_instances() == []
            op = api.admin()
            host = op.ok("GET", "/v1/hosts")["items"][0]
            assert host["vcpus_used"] == 0 and host["instances"] == 0
        finally:
            agent.stop()


def test_agent_restart_readopts_and_reports_unknown_vms(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    driver = FakeDriver()
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        ids = [t.member.ok("POST", "/v1/instances", server_body(t, name=f"vm{i}"), status=202)["id"] for i in range(2)]
        for iid in ids:
            wait_for(lambda iid=iid: state_of(t.member, iid) == "RUNNING")
        agent.stop()  # the agent dies; the VMs keep running
        stray = InstanceSpec(instance_id="not-ours-1", name="stray", vcpus=1, ram_mb=64, disk_gb=1, image_path="/x")
        driver.spawn(stray)
        agent2 = AgentThread(rt, url, tmp_path / "agent", driver).start()
        try:
            op = api.admin()
            wait_for(lambda: op.ok("GET", "/v1/hosts")["items"][0]["unmanaged_instances"] == ["not-ours-1"])
            assert sorted(s.instance_id for s in driver.list_instances()) == sorted([*ids, "not-ours-1"])
            assert all(state_of(t.member, i) == "RUNNING" for i in ids)
            assert len(op.ok("GET", "/v1/hosts")["items"]) == 1  # re-used its credential, no second host
        finally:
            agent2.stop()


def test_silent_host_shows_unknown_not_deleted(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    driver = FakeDriver()
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        iid = t.member.ok("POST", "/v1/instances", server_body(t), status=202)["id"]
        wait_for(lambda: state_of(t.member, iid) == "RUNNING")
        agent.stop()
        rt.clock.advance(rt.settings.heartbeat_grace_seconds + 5)
        jobs.run_once(rt)
        assert state_of(t.member, iid) == "UNKNOWN"
        op = api.admin()
        assert op.ok("GET", "/v1/hosts")["items"][0]["status"] == "down"
        assert len(driver.list_instances()) == 1  # nothing destroyed
        agent2 = AgentThread(rt, url, tmp_path / "agent", driver).start()
        try:
            wait_for(lambda: state_of(t.member, iid) == "RUNNING")
        finally:
            agent2.stop()


def test_spawn_failure_gives_error_with_reason(api, rt, tmp_path, client):
    from hexagone.errors import PermanentError

    t = tenant(api, rt, tmp_path)
    driver = FakeDriver(fail_on={"spawn": PermanentError("The image cannot boot on this host.")})
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        try:
            iid = t.member.ok("POST", "/v1/instances", server_body(t), status=202)["id"]
            wait_for(lambda: state_of(t.member, iid) == "ERROR")
            assert "cannot boot" in t.member.ok("GET", f"/v1/instances/{iid}")["error_reason"]
            t.member.ok("DELETE", f"/v1/instances/{iid}", status=202)
            wait_for(lambda: state_of(t.member, iid) == 404)
        finally:
            agent.stop()


def test_control_plane_restart_during_create(api, rt, tmp_path, client):
    """The API accepts a create, then goes away before the agent acts; a new control-plane process
    on the same database finishes the job: the instance ends RUNNING, created once, and a client
    retrying with the same Idempotency-Key gets the same instance back."""
    import httpx

    t = tenant(api, rt, tmp_path)
    driver = FakeDriver()
    body = server_body(t, name="survivor")
    key = {"Idempotency-Key": "create-survivor-1"}
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        agent.stop()  # the agent is not listening while the create lands
        with httpx.Client(base_url=url, headers={**t.member.headers, **key}) as c:
            first = c.post("/v1/instances", json=body)
        assert first.status_code == 202
    # the first control plane is gone; a new one starts on the same state
    with live_server(rt) as url2:
        with httpx.Client(base_url=url2, headers={**t.member.headers, **key}) as c:
            again = c.post("/v1/instances", json=body)
        assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
        agent2 = AgentThread(rt, url2, tmp_path / "agent", driver).start()
        try:
            iid = first.json()["id"]
            wait_for(lambda: state_of(t.member, iid) == "RUNNING")
            assert [s.instance_id for s in driver.list_instances()] == [iid]
            assert len(t.member.ok("GET", "/v1/instances")["items"]) == 1
        finally:
            agent2.stop()


def test_periodic_jobs_run_on_an_idle_region(rt):
    """The control plane's periodic rounds (hosts, builds, metering reconciliation, budgets) run
    cleanly on a region with nothing to do."""
    jobs.run_once(rt)
    jobs.run_billing(rt)
