"""Done-when for the compute host: a real VM (TCG here) boots the tiny image and answers SSH."""

from __future__ import annotations

import time
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
    cap = 64 * 1024
    with qemu_driver(tmp_path / "host", serial_log_max_bytes=cap) as driver:
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

        # A guest flooding its console (1 MiB, 16 times the cap) cannot grow the log on the host.
        flood = driver.ssh(spec.instance_id, "dd if=/dev/zero bs=1024 count=1024 2>/dev/null | tr '\\0' x "
                           "> /dev/ttyS0; echo FLOOD-DONE > /dev/ttyS0", key, timeout=120)
        assert flood.returncode == 0, flood.stderr
        instance_dir = driver.state_dir / "instances" / spec.instance_id
        deadline = time.monotonic() + 30
        while "FLOOD-DONE" not in driver.console_log(spec.instance_id, 4096):
            assert time.monotonic() < deadline, "the flood never reached the console reader"
            time.sleep(0.5)
        assert sum(p.stat().st_size for p in instance_dir.glob("serial.log*")) <= 2 * cap
        assert driver.status(spec.instance_id).guest_ready

        # The guest at another address than its own (dnsmasq did not apply the reservation) is
        # not ready, and the driver says why.
        leases = driver.network.run_dir / "leases"
        real = leases.read_text()
        leases.write_text(real.replace("10.202.0.10 ", "10.202.0.177 "))
        wrong = driver.status(spec.instance_id)
        assert not wrong.guest_ready and "10.202.0.177 instead of its own 10.202.0.10" in wrong.problem
        leases.write_text(real)
        assert driver.status(spec.instance_id).guest_ready

        assert (instance_dir / "disk.qcow2").exists()
        driver.destroy(spec.instance_id)

        assert not pid_alive(status.pid)
        assert _qemu_processes_for(spec.instance_id) == []
        assert not driver.network.has_port(tap_name(spec.instance_id))
        assert not instance_dir.exists()
        assert driver.status(spec.instance_id).power_state is PowerState.MISSING
