"""Agent reports are sequenced and checked against the desired state they were taken against
(issue 20, items 2 and 6): a stale or duplicated report never finishes a delete, never moves a
running instance to ERROR, and a report changes only the fields it carries."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from hexagone.bootstrap import local_join_token
from hexagone.compute.drivers.fake import FakeDriver
from tests.integration.compute_helpers import server_body, tenant
from tests.live import AgentThread, live_server, wait_for

pytestmark = pytest.mark.integration

INVENTORY = {"vcpus": 8, "ram_mb": 16384, "disk_gb": 200, "capabilities": {"accel": "fake"}}


class HandAgent:
    """An agent played by hand through the agent API: its own boot id, its own sequence."""

    def __init__(self, client: Any, rt: Any) -> None:
        self.client = client
        r = client.post("/v1/agent/join", json={"join_token": local_join_token(rt), "name": "hand-1",
                                                "inventory": INVENTORY})
        assert r.status_code == 201, r.text
        self.credential = r.json()["credential"]
        self.boot_id = uuid.uuid4().hex
        self.seq = itertools.count(1)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}

    def desired(self) -> dict[str, Any]:
        r = self.client.get("/v1/agent/desired", headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def revision(self) -> int:
        return int(self.desired()["revision"])

    def send(self, *observations: dict[str, Any], revision: int | None = None, seq: int | None = None,
             boot_id: str | None = None, unmanaged: list[str] | None = None, status: int = 200) -> Any:
        body = {
            "boot_id": boot_id or self.boot_id,
            "seq": next(self.seq) if seq is None else seq,
            "revision": self.revision() if revision is None else revision,
            "observations": list(observations),
            "unmanaged": unmanaged or [],
        }
        r = self.client.post("/v1/agent/report", json=body, headers=self.headers)
        assert r.status_code == status, r.text
        return r.json()


def _running(t: Any, agent: HandAgent) -> str:
    iid = str(t.member.ok("POST", "/v1/instances", server_body(t), status=202)["id"])
    agent.send({"instance_id": iid, "power_state": "RUNNING", "guest_ready": True})
    assert t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "RUNNING"
    return iid


def _host(api: Any) -> dict[str, Any]:
    return dict(api.admin().ok("GET", "/v1/hosts")["items"][0])


def test_stale_missing_after_delete_does_not_finish_it(api, rt, tmp_path, client):
    """The agent is away; the user deletes; a MISSING taken before the delete (or a MISSING that is
    no confirmation) leaves the instance DELETING with its capacity claimed. Only the agent's
    confirmation that it destroyed the guest, taken against the delete, finishes it."""
    t = tenant(api, rt, tmp_path)
    agent = HandAgent(client, rt)
    iid = _running(t, agent)
    before_delete = agent.revision()
    t.member.ok("DELETE", f"/v1/instances/{iid}", status=202)

    res = agent.send({"instance_id": iid, "power_state": "MISSING"}, revision=before_delete)
    assert res["applied"] == 0
    res = agent.send({"instance_id": iid, "power_state": "MISSING", "destroyed": True}, revision=before_delete)
    assert res["applied"] == 0
    res = agent.send({"instance_id": iid, "power_state": "MISSING"})  # fresh, but no confirmation
    assert res["applied"] == 0
    assert t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "DELETING"
    host = _host(api)
    assert host["instances"] == 1 and host["vcpus_used"] > 0

    res = agent.send({"instance_id": iid, "power_state": "MISSING", "destroyed": True})
    assert res["applied"] == 1
    assert t.member.get(f"/v1/instances/{iid}").status_code == 404
    host = _host(api)
    assert host["instances"] == 0 and host["vcpus_used"] == 0


def test_stale_or_duplicate_report_is_ignored(api, rt, tmp_path, client):
    """A CRASHED delivered late (an older sequence of the same boot) or observed before the user's
    last action (an older revision) does not move the RUNNING instance to ERROR."""
    t = tenant(api, rt, tmp_path)
    agent = HandAgent(client, rt)
    iid = _running(t, agent)
    res = agent.send({"instance_id": iid, "power_state": "RUNNING", "guest_ready": True}, seq=10)
    res = agent.send({"instance_id": iid, "power_state": "CRASHED"}, seq=9)
    assert res == {"applied": 0, "stale": True}
    res = agent.send({"instance_id": iid, "power_state": "CRASHED"}, seq=10)  # a duplicate
    assert res == {"applied": 0, "stale": True}
    assert t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "RUNNING"

    before = agent.revision()
    t.member.ok("POST", f"/v1/instances/{iid}/action", {"action": "reboot"}, status=202)
    agent.send({"instance_id": iid, "power_state": "CRASHED"}, revision=before, seq=11)
    assert t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "REBOOTING"
    agent.send({"instance_id": iid, "power_state": "RUNNING", "reboot_seq_done": 1}, seq=12)
    assert t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "RUNNING"

    # a new boot of the agent starts its own sequence
    agent.boot_id = uuid.uuid4().hex
    res = agent.send({"instance_id": iid, "power_state": "CRASHED"}, seq=1)
    assert res["applied"] == 1
    assert t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "ERROR"


def test_report_fields_are_validated_and_only_reported_ones_change(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    agent = HandAgent(client, rt)
    iid = _running(t, agent)
    r = client.post("/v1/agent/report", headers=agent.headers, json={
        "boot_id": agent.boot_id, "seq": 100, "revision": agent.revision(),
        "observations": [{"instance_id": iid, "power_state": "BANANA"}]})
    assert r.status_code == 422, r.text
    assert "power_state" in r.text
    r = client.post("/v1/agent/report", headers=agent.headers, json={
        "observations": [{"instance_id": iid, "power_state": "RUNNING"}]})
    assert r.status_code == 422, r.text  # unsequenced

    agent.send({"instance_id": iid, "power_state": "RUNNING"})  # no guest_ready: left as it was
    assert t.member.ok("GET", f"/v1/instances/{iid}")["guest_ready"] is True

    agent.send({"instance_id": iid, "power_state": "CRASHED"})
    inst = t.member.ok("GET", f"/v1/instances/{iid}")
    assert inst["state"] == "ERROR" and inst["error_reason"] and inst["guest_ready"] is False
    agent.send({"instance_id": iid, "power_state": "RUNNING", "guest_ready": True})
    inst = t.member.ok("GET", f"/v1/instances/{iid}")
    assert inst["state"] == "RUNNING" and not inst["error_reason"] and inst["guest_ready"] is True


def test_a_deleted_guest_still_running_is_destroyed_a_stranger_is_not(api, rt, tmp_path, client):
    """A delete finished while the guest kept running (here: a forged confirmation while the
    agent was away): the restarted agent finds it, the region tells it to destroy it. A guest the
    region never knew stays reported as unmanaged, and alive."""
    from hexagone.compute.driver import InstanceSpec

    t = tenant(api, rt, tmp_path)
    driver = FakeDriver()
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        iid = t.member.ok("POST", "/v1/instances", server_body(t), status=202)["id"]
        wait_for(lambda: t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "RUNNING")
        agent.stop()
        t.member.ok("DELETE", f"/v1/instances/{iid}", status=202)
        credential = (tmp_path / "agent" / "credential").read_text().strip()
        headers = {"Authorization": f"Bearer {credential}"}
        revision = client.get("/v1/agent/desired", headers=headers).json()["revision"]
        r = client.post("/v1/agent/report", headers=headers, json={
            "boot_id": "forged", "seq": 1, "revision": revision,
            "observations": [{"instance_id": iid, "power_state": "MISSING", "destroyed": True}]})
        assert r.status_code == 200 and r.json()["applied"] == 1, r.text
        assert t.member.get(f"/v1/instances/{iid}").status_code == 404
        assert [s.instance_id for s in driver.list_instances()] == [iid]  # leaked
        driver.spawn(InstanceSpec(instance_id="not-ours-1", name="stray", vcpus=1, ram_mb=64, disk_gb=1,
                                  image_path="/x"))

        agent2 = AgentThread(rt, url, tmp_path / "agent", driver).start()
        try:
            wait_for(lambda: [s.instance_id for s in driver.list_instances()] == ["not-ours-1"])
            op = api.admin()
            wait_for(lambda: op.ok("GET", "/v1/hosts")["items"][0]["unmanaged_instances"] == ["not-ours-1"])
            host = op.ok("GET", "/v1/hosts")["items"][0]
            assert host["instances"] == 0 and host["vcpus_used"] == 0
        finally:
            agent2.stop()
