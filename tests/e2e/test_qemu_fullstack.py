"""The whole chain with a real VM: API → scheduler → agent → QEMU (TCG here) → guest ready → SSH with
the injected key → delete → nothing left on the host. One boot, on SQLite only (the control-plane
path is covered on PostgreSQL by the fake-driver tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hexagone.compute.drivers.guestssh import wait_for_ssh
from hexagone.compute.drivers.hostnet import pid_alive
from hexagone.compute.drivers.qemu_files import tap_name
from tests.integration.compute_helpers import Tenant
from tests.integration.conftest_qemu import cached_tiny_image, make_ssh_key, qemu_driver
from tests.live import AgentThread, live_server, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.qemu]


def test_boot_ssh_delete_through_the_api(api, rt, tmp_path: Path, client, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("one real boot per run: see the module docstring")
    from hexagone.bootstrap import ensure_catalogue

    image_dir = cached_tiny_image().parent
    ensure_catalogue(rt, image_dir)
    key, public_key = make_ssh_key(tmp_path)
    op = api.admin()
    org = api.org(op, api.root_id(op), "customer")
    project = api.project(op, org["id"])
    _, member = api.user(op, org["id"], ["member"])
    member.ok("POST", "/v1/keypairs", {"name": "k1", "public_key": public_key})
    t = Tenant(op, member, org, project, "tiny")

    with qemu_driver(tmp_path / "host", subnet="10.203.0.1/24") as driver, live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver, network_cidr="10.203.0.0/24").start()
        try:
            inst = member.ok("POST", "/v1/instances", {"project_id": t.project["id"], "name": "web-1",
                                                       "flavor": "tiny", "image": "tiny", "key_name": "k1"},
                             status=202)
            iid = inst["id"]

            def ready():
                body = member.ok("GET", f"/v1/instances/{iid}")
                assert body["state"] != "ERROR", body["error_reason"]
                return body if body["state"] == "RUNNING" and body["guest_ready"] else None

            body = wait_for(ready, timeout=180, interval=0.5)
            assert body["accel"] in ("tcg", "kvm")
            ip = body["addresses"][0]["ip"]
            assert ip.startswith("10.203.0.")
            console = member.ok("GET", f"/v1/instances/{iid}/console")["output"]
            assert "HEXAGONE-GUEST-READY" in console

            assert driver.network is not None
            wait_for_ssh(driver.network, ip, key, timeout=60)
            out = driver.ssh(iid, "hostname", key)
            assert out.returncode == 0 and out.stdout.strip() == "web-1"

            pid = driver.status(iid).pid
            member.ok("DELETE", f"/v1/instances/{iid}", status=202)
            wait_for(lambda: member.get(f"/v1/instances/{iid}").status_code == 404, timeout=60)
            assert not (driver.state_dir / "instances" / iid).exists()
            assert not driver.network.has_port(tap_name(iid))
            assert pid is not None and not pid_alive(pid)  # (a zombie awaiting its reaper counts as gone)
        finally:
            agent.stop()
