"""Done-when for the compute host: a real VM (TCG here) boots the tiny image and answers SSH."""

from __future__ import annotations

from pathlib import Path

import pytest

from hexagone.compute.driver import InstanceSpec, PowerState, wait_until_ready
from hexagone.compute.drivers.guestssh import wait_for_ssh
from hexagone.compute.drivers.hostnet import pid_alive
from hexagone.compute.drivers.qemu_files import tap_name
from tests.integration.conftest_qemu import cached_tiny_image, make_ssh_key, qemu_driver

pytestmark = [pytest.mark.integration, pytest.mark.qemu]


def _qemu_processes_for(instance_id: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"guest={instance_id}".encode() in args and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def test_tiny_image_boots_answers_ssh_with_the_injected_key_and_is_destroyed_cleanly(tmp_path: Path) -> None:
    image = cached_tiny_image()
    key, public_key = make_ssh_key(tmp_path)
    with qemu_driver(tmp_path / "host") as driver:
        assert driver.network is not None
        spec = InstanceSpec(
            instance_id="boot-test-1", name="boot test", vcpus=1, ram_mb=128, disk_gb=1,
            image_path=str(image), hostname="hx-boot-test", mac="52:54:00:20:00:0a", ip="10.202.0.10",
            ssh_authorized_keys=(public_key,),
        )
        driver.spawn(spec)
        status = wait_until_ready(driver, spec.instance_id, timeout=120)
        assert status.power_state is PowerState.RUNNING and status.pid is not None
        assert "HEXAGONE-GUEST-READY hostname=hx-boot-test" in driver.console_log(spec.instance_id)

        wait_for_ssh(driver.network, "10.202.0.10", key, timeout=60)
        result = driver.ssh(spec.instance_id, "hostname; ip -4 -o addr show dev eth0", key)
        assert result.returncode == 0, result.stderr
        hostname, address = result.stdout.splitlines()
        assert hostname == "hx-boot-test"
        assert "10.202.0.10/24" in address

        instance_dir = driver.state_dir / "instances" / spec.instance_id
        assert (instance_dir / "disk.qcow2").exists()
        driver.destroy(spec.instance_id)

        assert not pid_alive(status.pid)
        assert _qemu_processes_for(spec.instance_id) == []
        assert not driver.network.has_port(tap_name(spec.instance_id))
        assert not instance_dir.exists()
        assert driver.status(spec.instance_id).power_state is PowerState.MISSING
