"""Host credentials can be revoked: decommissioning a host (refused while it carries instances)
revokes its credential, its agent gets 401 and stops; a disabled host's agent keeps managing
what it already runs but gets nothing new."""

from __future__ import annotations

import logging
import threading

import pytest

from hexagone.agent.loop import EXIT_REVOKED, Agent, AgentConfig
from hexagone.bootstrap import local_join_token
from hexagone.compute.drivers.fake import FakeDriver
from tests.helpers import agent_report
from tests.integration.compute_helpers import server_body, tenant
from tests.live import AgentThread, live_server, wait_for

pytestmark = pytest.mark.integration

INVENTORY = {"vcpus": 8, "ram_mb": 16384, "disk_gb": 100}


def _join(client, rt, name: str) -> tuple[str, str]:
    r = client.post("/v1/agent/join", json={"join_token": local_join_token(rt), "name": name, "inventory": INVENTORY})
    assert r.status_code == 201, r.text
    return r.json()["host_id"], r.json()["credential"]


def _agent(client, credential: str, method: str, path: str, json=None):  # type: ignore[no-untyped-def]
    return client.request(method, path, json=json, headers={"Authorization": f"Bearer {credential}"})


def test_decommission_waits_for_the_instances_then_revokes_the_credential(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    op = api.admin()
    host_id, cred = _join(client, rt, "node-1")
    iid = t.member.ok("POST", "/v1/instances", server_body(t), status=202)["id"]
    r = op.delete(f"/v1/hosts/{host_id}")
    assert r.status_code == 409 and "still carries 1 instance" in r.json()["detail"], r.text
    assert t.member.delete(f"/v1/hosts/{host_id}").status_code in (403, 404)  # operators only
    t.member.ok("DELETE", f"/v1/instances/{iid}", status=202)
    r = agent_report(client, cred, [{"instance_id": iid, "power_state": "MISSING", "destroyed": True}])
    assert r.status_code == 200, r.text
    assert t.member.get(f"/v1/instances/{iid}").status_code == 404
    op.ok("DELETE", "/v1/hosts/node-1")  # by name, as every host route
    for method, path, body in (("POST", "/v1/agent/heartbeat", INVENTORY), ("GET", "/v1/agent/desired", None),
                               ("POST", "/v1/agent/report", {"boot_id": "t", "seq": 99, "revision": 0,
                                                             "observations": []})):
        r = _agent(client, cred, method, path, body)
        assert r.status_code == 401 and "decommissioned" in r.json()["detail"], (path, r.text)
    shown = op.ok("GET", f"/v1/hosts/{host_id}")
    assert shown["status"] == "decommissioned" and shown["revoked_at"]
    op.ok("DELETE", f"/v1/hosts/{host_id}")  # again: nothing changes
    assert op.patch(f"/v1/hosts/{host_id}", json={"status": "up"}).status_code == 409
    audit = op.ok("GET", "/v1/audit/events?action=host.decommission")["items"]
    assert [a["resource_id"] for a in audit] == [host_id]
    # the machine may join again under its name, with a new token and a new credential
    new_id, new_cred = _join(client, rt, "node-1")
    assert new_id != host_id and _agent(client, new_cred, "POST", "/v1/agent/heartbeat", INVENTORY).status_code == 200
    assert _agent(client, cred, "POST", "/v1/agent/heartbeat", INVENTORY).status_code == 401


def test_a_decommissioned_hosts_agent_stops_with_a_clear_log_line(api, rt, tmp_path, client, caplog):
    """The agent, blocked in its long-poll, is woken by the decommission, gets 401 and returns
    from ``run_forever`` (the process exits with status 3) instead of retrying forever."""
    op = api.admin()
    with live_server(rt) as url:
        cfg = AgentConfig(url=url, state_dir=tmp_path / "agent", name="node-2", join_token=local_join_token(rt),
                          heartbeat_interval=1.0, poll_wait=30.0)
        agent = Agent(cfg, FakeDriver())
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(agent.run_forever()), daemon=True)
        with caplog.at_level(logging.INFO, logger="hexagone.agent"):
            thread.start()
            wait_for(lambda: op.get("/v1/hosts/node-2").status_code == 200)
            op.ok("DELETE", "/v1/hosts/node-2")
            thread.join(20)
        agent.client.close()
    assert result == [EXIT_REVOKED]
    assert any(r.levelno == logging.CRITICAL and "agent stopping" in r.getMessage() and "decommissioned"
               in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "agent" / "credential").exists()  # a restart with a new token joins again
    assert (tmp_path / "agent" / "credential.revoked").exists()


def test_a_disabled_host_keeps_managing_its_instances_but_gets_no_new_one(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    op = api.admin()
    driver = FakeDriver()
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        try:
            iid = t.member.ok("POST", "/v1/instances", server_body(t), status=202)["id"]
            wait_for(lambda: t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "RUNNING")
            host = op.ok("GET", "/v1/hosts")["items"][0]
            op.ok("PATCH", f"/v1/hosts/{host['id']}", {"status": "disabled"})
            r = t.member.post("/v1/instances", json=server_body(t, name="vm2"))
            assert r.status_code == 409 and "status" in r.json()["detail"], r.text  # no valid host
            t.member.ok("POST", f"/v1/instances/{iid}/action", {"action": "stop"}, status=202)
            wait_for(lambda: t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "STOPPED")
            t.member.ok("DELETE", f"/v1/instances/{iid}", status=202)
            wait_for(lambda: t.member.get(f"/v1/instances/{iid}").status_code == 404)
            assert op.ok("GET", f"/v1/hosts/{host['id']}")["status"] == "disabled"  # heartbeats kept it so
        finally:
            agent.stop()
