"""openstacksdk drives a real VM: the OpenStack facade → scheduler → agent → QEMU (TCG here) → the
guest answers SSH with the key imported through the SDK. One boot, on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from hexagone.bootstrap import ensure_catalogue
from hexagone.clock import SystemClock
from hexagone.compute.drivers.guestssh import wait_for_ssh
from tests.helpers import PASSWORD
from tests.integration.conftest_qemu import cached_tiny_image, make_ssh_key, qemu_driver
from tests.live import AgentThread, live_server, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.qemu, pytest.mark.timeout(300)]


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    import shutil

    target = tmp_path / "hexagone.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> SystemClock:  # type: ignore[override]
    """Real time: the SDK compares token expiry with its own clock."""
    return SystemClock()


@pytest.mark.filterwarnings("ignore::Warning:openstack")
def test_openstacksdk_boots_a_real_vm_that_answers_ssh(api, rt, tmp_path: Path, client) -> None:
    import openstack

    image_dir = cached_tiny_image().parent
    ensure_catalogue(rt, image_dir)
    key, public_key = make_ssh_key(tmp_path)
    op = api.admin()
    org = api.org(op, api.root_id(op), "customer", name="qemu-co")
    api.project(op, org["id"], name="demo")
    api.user(op, org["id"], ["member"], name="bob")

    with qemu_driver(tmp_path / "host", subnet="10.204.0.1/24") as driver, live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", driver, network_cidr="10.204.0.0/24").start()
        conn = openstack.connect(
            auth_url=f"{url}/identity", username="bob", password=PASSWORD, project_name="demo",
            user_domain_name="qemu-co", project_domain_name="qemu-co", region_name="local",
            identity_api_version="3", load_envvars=False, load_yaml_config=False,
        )
        try:
            conn.compute.create_keypair(name="k1", public_key=public_key)
            image = conn.image.find_image("tiny", ignore_missing=False)
            flavor = conn.compute.find_flavor("tiny", ignore_missing=False)
            network = conn.network.find_network("default", ignore_missing=False)
            server = conn.compute.create_server(name="sdk-vm", image_id=image.id, flavor_id=flavor.id,
                                                networks=[{"uuid": network.id}], key_name="k1")
            server = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=120)
            wait_for(lambda: "HEXAGONE-GUEST-READY" in conn.compute.get_server_console_output(server)["output"],
                     timeout=120, interval=1.0)
            ip = next(a["addr"] for addrs in server.addresses.values() for a in addrs)
            assert driver.network is not None
            wait_for_ssh(driver.network, ip, key, timeout=60)
            out = driver.ssh(server.id, "hostname", key)
            assert out.returncode == 0 and out.stdout.strip() == "sdk-vm"

            conn.compute.stop_server(server)
            conn.compute.wait_for_server(server, status="SHUTOFF", interval=0.5, wait=90)
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, interval=0.5, wait=90)
            assert driver.list_instances() == []
        finally:
            conn.close()
            agent.stop()
