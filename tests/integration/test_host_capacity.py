"""One source of truth for a host's capacity (issue 20, item 7): what placement grants on a host
(its totals × the region's overcommit ratios), the fake driver runs, so nothing sits in BUILDING
waiting for room the driver will never give."""

from __future__ import annotations

import pytest

from hexagone.compute.driver import HostInventory
from hexagone.compute.drivers.fake import FakeDriver
from tests.integration.compute_helpers import server_body, tenant
from tests.live import AgentThread, live_server, wait_for

pytestmark = pytest.mark.integration


def test_fake_driver_runs_what_placement_grants_with_cpu_overcommit(api, rt, tmp_path, client):
    t = tenant(api, rt, tmp_path)
    driver = FakeDriver(inventory=HostInventory(vcpus=1, ram_mb=16384, disk_gb=200))
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver).start()
        try:
            op = api.admin()
            host = op.ok("GET", "/v1/hosts")["items"][0]
            assert host["vcpus"] == 1 and host["cpu_ratio"] == 4.0
            ids = [t.member.ok("POST", "/v1/instances", server_body(t, name=f"vm{i}"), status=202)["id"]
                   for i in range(4)]
            r = t.member.post("/v1/instances", json=server_body(t, name="vm-too-many"))
            assert r.status_code == 409 and "capacity" in r.text, r.text  # placement says no, at once
            for iid in ids:
                wait_for(lambda iid=iid: t.member.ok("GET", f"/v1/instances/{iid}")["state"] == "RUNNING")
            assert len(driver.list_instances()) == 4
        finally:
            agent.stop()
