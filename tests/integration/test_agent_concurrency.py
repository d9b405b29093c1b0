"""Long driver operations never block the agent: while one guest takes its time to shut down for a
soft reboot, heartbeats go on and another instance converges; reboots are SOFT or HARD as in Nova
(issue 9 item 4)."""

from __future__ import annotations

import time

import pytest

from hexagone.compute.drivers.fake import FakeDriver
from tests.integration.compute_helpers import server_body, tenant
from tests.live import AgentThread, live_server, wait_for

pytestmark = pytest.mark.integration

SLOW_STOP = 6.0


def state_of(s, iid):
    r = s.get(f"/v1/instances/{iid}")
    return r.json().get("state") if r.status_code == 200 else r.status_code


def test_a_slow_soft_reboot_blocks_neither_heartbeats_nor_other_instances(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    driver = FakeDriver(delays={"stop": SLOW_STOP})  # the guest ignores ACPI for a while
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        beats: list[float] = []
        heartbeat = agent.agent.client.heartbeat

        def counted(*args, **kw):
            beats.append(time.monotonic())
            return heartbeat(*args, **kw)

        agent.agent.client.heartbeat = counted
        try:
            a = t.member.ok("POST", "/v1/instances", server_body(t, "a"), status=202)["id"]
            wait_for(lambda: state_of(t.member, a) == "RUNNING")

            t.member.ok("POST", f"/v1/instances/{a}/action", {"action": "reboot"}, status=202)
            started = time.monotonic()
            b = t.member.ok("POST", "/v1/instances", server_body(t, "b"), status=202)["id"]
            wait_for(lambda: state_of(t.member, b) == "RUNNING", timeout=SLOW_STOP - 1)
            assert state_of(t.member, a) == "REBOOTING"  # still shutting down, meanwhile
            wait_for(lambda: state_of(t.member, a) == "RUNNING", timeout=SLOW_STOP + 10)
            during = [x for x in beats if started <= x <= started + SLOW_STOP]
            assert len(during) >= 3, f"heartbeats stopped during the reboot: {beats}"
            assert driver.reboots == [(a, False)]

            # A hard reboot resets at once (no graceful stop), as Nova's HARD does.
            t.member.ok("POST", f"/v1/instances/{a}/action", {"action": "reboot", "type": "HARD"}, status=202)
            wait_for(lambda: driver.reboots[-1:] == [(a, True)], timeout=5)
            wait_for(lambda: state_of(t.member, a) == "RUNNING", timeout=5)

            bad = t.member.post(f"/v1/instances/{a}/action", json={"action": "reboot", "type": "MEDIUM"})
            assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
            other = t.member.post(f"/v1/instances/{a}/action", json={"action": "stop", "type": "HARD"})
            assert other.status_code == 400 and "Only a reboot" in other.json()["detail"], other.text
        finally:
            agent.stop()



def test_a_guest_at_another_address_than_its_own_says_so_on_the_instance(api, rt, tmp_path, client):
    """The driver's ``problem`` (e.g. the guest took a pool address instead of its reservation)
    reaches the instance: not ready, and a reason the owner can read (issue 9 item 1)."""
    from hexagone.agent.client import AgentClient

    t = tenant(api, rt, tmp_path)
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", FakeDriver()).start()
        try:
            iid = t.member.ok("POST", "/v1/instances", server_body(t, "a"), status=202)["id"]
            wait_for(lambda: state_of(t.member, iid) == "RUNNING")
        finally:
            agent.stop()
        reporter = AgentClient(url)
        reporter.credential = (tmp_path / "agent" / "credential").read_text().strip()
        problem = "The guest took address 10.200.0.174 instead of its own 10.200.0.10, so it cannot be reached."
        revision = int(reporter.desired(0, 0)["revision"])  # observed against the current desired state
        reporter.report("test-reporter", 1, revision,
                        [{"instance_id": iid, "power_state": "RUNNING", "guest_ready": False, "detail": problem}], [])
        reporter.close()
    shown = t.member.ok("GET", f"/v1/instances/{iid}")
    assert shown["state"] == "RUNNING" and shown["guest_ready"] is False and shown["error_reason"] == problem
