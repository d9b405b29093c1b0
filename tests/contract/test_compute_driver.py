"""One contract suite for every ``ComputeDriver``: the fake always, QEMU where the machine allows.

The QEMU variant spawns real (TCG) processes but, except in ``test_guest_becomes_ready_and_stops
_gracefully``, never waits for a guest to finish booting, so it stays cheap.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from hexagone.compute.driver import (
    ComputeDriver,
    HostInventory,
    InstanceSpec,
    PowerState,
    wait_until_ready,
)
from hexagone.compute.drivers.fake import FakeDriver
from hexagone.errors import Conflict, NotFound, PermanentError

pytestmark = pytest.mark.contract

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHexagoneContractTestKeyOnly000000000000000 contract@test"


@dataclass
class Harness:
    driver: ComputeDriver
    image_path: str
    reopen: Callable[[], ComputeDriver]
    break_spawn: Callable[[InstanceSpec], InstanceSpec]
    crash: Callable[[str], None]
    ready_timeout: float

    def spec(self, instance_id: str, **changes: Any) -> InstanceSpec:
        base = InstanceSpec(
            instance_id=instance_id, name=f"vm {instance_id}", vcpus=1, ram_mb=128, disk_gb=1,
            image_path=self.image_path, hostname=instance_id, ssh_authorized_keys=(KEY,),
            mac="52:54:00:" + ":".join(secrets.token_hex(1) for _ in range(3)),
        )
        return replace(base, **changes)


def _fake_harness() -> Iterator[Harness]:
    driver = FakeDriver(inventory=HostInventory(vcpus=8, ram_mb=8192, disk_gb=100))

    def break_spawn(spec: InstanceSpec) -> InstanceSpec:
        driver.fail_on["spawn"] = PermanentError("Injected failure.")
        return spec

    yield Harness(driver, "/images/fake.qcow2", lambda: driver, break_spawn, driver.simulate_crash,
                  ready_timeout=5.0)


def _qemu_harness(tmp_path: Path) -> Iterator[Harness]:
    from hexagone.compute.drivers.hostnet import HostNetworkConfig
    from hexagone.compute.drivers.qemu import QemuDriver, QemuDriverConfig, host_problem
    from hexagone.compute.drivers.qemu_files import wait_dead
    from hexagone.images.tiny import tiny_image

    problem = host_problem()
    if problem:
        pytest.skip(f"QEMU driver unavailable: {problem}")
    image = tiny_image()
    config = QemuDriverConfig(
        state_dir=tmp_path / "host",
        network=HostNetworkConfig(namespace=f"hxc-{secrets.token_hex(3)}", address="10.201.0.1/24"),
    )
    driver = QemuDriver(config)

    def break_spawn(spec: InstanceSpec) -> InstanceSpec:
        # Fails late (when plugging the NIC), after the overlay and the seed were written.
        return replace(spec, ip="192.0.2.10")

    def crash(instance_id: str) -> None:
        pid = driver.status(instance_id).pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_dead(pid, 10.0)

    try:
        yield Harness(driver, str(image), lambda: QemuDriver(config), break_spawn, crash, ready_timeout=120.0)
    finally:
        for status in driver.list_instances():
            driver.destroy(status.instance_id)
        assert driver.network is not None
        driver.network.teardown()


@pytest.fixture(
    params=[
        "fake",
        pytest.param("qemu", marks=[pytest.mark.qemu, pytest.mark.integration]),
    ]
)
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fake":
        yield from _fake_harness()
    else:
        yield from _qemu_harness(tmp_path)


def test_capabilities_name_the_accelerator_and_inventory_counts_instances(h: Harness) -> None:
    assert h.driver.capabilities()["accel"] in ("kvm", "tcg", "fake")
    before = h.driver.inventory()
    assert before.vcpus >= 1 and before.ram_mb > 0 and before.disk_gb > 0
    h.driver.spawn(h.spec("inv-1", vcpus=1, ram_mb=128, disk_gb=1))
    after = h.driver.inventory()
    assert (after.vcpus_used, after.ram_mb_used, after.disk_gb_used) == (
        before.vcpus_used + 1, before.ram_mb_used + 128, before.disk_gb_used + 1,
    )


def test_spawn_runs_the_instance_and_lists_it(h: Harness) -> None:
    spec = h.spec("run-1")
    status = h.driver.spawn(spec)
    assert status.power_state is PowerState.RUNNING
    assert status.pid is not None
    assert [s.instance_id for s in h.driver.list_instances()] == ["run-1"]
    assert h.driver.get_spec("run-1") == spec
    assert isinstance(h.driver.console_log("run-1"), str)


def test_spawning_the_same_spec_twice_is_idempotent_and_a_different_spec_conflicts(h: Harness) -> None:
    spec = h.spec("idem-1")
    first = h.driver.spawn(spec)
    again = h.driver.spawn(spec)
    assert again.pid == first.pid and again.power_state is PowerState.RUNNING
    with pytest.raises(Conflict):
        h.driver.spawn(replace(spec, ram_mb=256))
    assert len(h.driver.list_instances()) == 1


def test_unknown_instances_are_missing_and_destroying_them_succeeds(h: Harness) -> None:
    assert h.driver.status("ghost").power_state is PowerState.MISSING
    h.driver.destroy("ghost")
    for verb in (h.driver.start, h.driver.stop, h.driver.reboot, h.driver.pause, h.driver.get_spec,
                 h.driver.console_log):
        with pytest.raises(NotFound):
            verb("ghost")


def test_a_failed_spawn_leaves_nothing_behind(h: Harness) -> None:
    spec = h.break_spawn(h.spec("broken-1"))
    with pytest.raises(PermanentError):
        h.driver.spawn(spec)
    assert h.driver.status("broken-1").power_state is PowerState.MISSING
    assert h.driver.list_instances() == []


def test_stop_and_start_are_idempotent(h: Harness) -> None:
    h.driver.spawn(h.spec("cycle-1"))
    assert h.driver.stop("cycle-1", timeout=1.0).power_state is PowerState.STOPPED
    assert h.driver.stop("cycle-1", timeout=1.0).power_state is PowerState.STOPPED
    assert h.driver.status("cycle-1").pid is None
    started = h.driver.start("cycle-1")
    assert started.power_state is PowerState.RUNNING
    assert h.driver.start("cycle-1").pid == started.pid


def test_pause_and_unpause(h: Harness) -> None:
    h.driver.spawn(h.spec("pause-1"))
    assert h.driver.pause("pause-1").power_state is PowerState.PAUSED
    assert h.driver.pause("pause-1").power_state is PowerState.PAUSED
    assert h.driver.unpause("pause-1").power_state is PowerState.RUNNING


def test_hard_reboot_keeps_the_instance_running(h: Harness) -> None:
    h.driver.spawn(h.spec("reboot-1"))
    assert h.driver.reboot("reboot-1", hard=True).power_state is PowerState.RUNNING
    h.driver.stop("reboot-1", timeout=1.0)
    assert h.driver.reboot("reboot-1").power_state is PowerState.RUNNING


def test_a_crashed_instance_is_reported_crashed_and_can_be_started_again(h: Harness) -> None:
    h.driver.spawn(h.spec("crash-1"))
    h.crash("crash-1")
    crashed = h.driver.status("crash-1")
    assert crashed.power_state is PowerState.CRASHED and crashed.pid is None
    assert [s.power_state for s in h.driver.list_instances()] == [PowerState.CRASHED]
    assert h.driver.start("crash-1").power_state is PowerState.RUNNING


def test_destroy_removes_the_instance_and_can_be_repeated(h: Harness) -> None:
    h.driver.spawn(h.spec("gone-1"))
    h.driver.destroy("gone-1")
    h.driver.destroy("gone-1")
    assert h.driver.status("gone-1").power_state is PowerState.MISSING
    assert h.driver.list_instances() == []


def test_a_new_driver_object_re_adopts_running_instances(h: Harness) -> None:
    first = h.driver.spawn(h.spec("adopt-1"))
    reopened = h.reopen()
    [found] = reopened.list_instances()
    assert (found.instance_id, found.power_state, found.pid) == ("adopt-1", PowerState.RUNNING, first.pid)
    reopened.destroy("adopt-1")
    assert h.driver.status("adopt-1").power_state is PowerState.MISSING


def test_guest_becomes_ready_and_stops_gracefully(h: Harness) -> None:
    """The one real boot of this suite: ready marker, then ACPI powerdown honoured well before timeout."""
    h.driver.spawn(h.spec("ready-1"))
    status = wait_until_ready(h.driver, "ready-1", timeout=h.ready_timeout)
    assert status.power_state is PowerState.RUNNING
    assert h.driver.capabilities().get("graceful_stop") is True
    started = time.monotonic()
    assert h.driver.stop("ready-1", timeout=60.0).power_state is PowerState.STOPPED
    assert time.monotonic() - started < 55.0


def test_fake_driver_with_a_state_file_keeps_its_guests_across_driver_objects(tmp_path: Path) -> None:
    """The agent process of a fault test is SIGKILLed: with ``state_path`` its fake guests survive,
    as a hypervisor's do, and the next agent re-adopts them."""
    path = tmp_path / "fake-instances.json"
    first = FakeDriver(state_path=path)
    spec = InstanceSpec(instance_id="kept-1", name="kept", vcpus=1, ram_mb=64, disk_gb=1, image_path="/x",
                        ssh_authorized_keys=(KEY,), metadata={"k": "v"})
    pid = first.spawn(spec).pid
    second = FakeDriver(state_path=path)
    [found] = second.list_instances()
    assert (found.instance_id, found.power_state, found.pid) == ("kept-1", PowerState.RUNNING, pid)
    assert second.get_spec("kept-1") == spec
    second.destroy("kept-1")
    assert FakeDriver(state_path=path).list_instances() == []
