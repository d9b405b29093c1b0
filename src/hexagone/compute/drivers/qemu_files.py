"""One QEMU instance's directory, and what it tells about the instance.

    <state_dir>/instances/<id>/spec.json   the InstanceSpec, written first, removed last
                              disk.qcow2   overlay on the (never written) base image
                              seed.iso     NoCloud seed (``seed.py``)
                              serial.sock  the serial console's socket (QEMU listens, the driver reads)
                              serial.log   the serial console, across boots, bounded (``serial.py``)
                              serial.log.1 the previous part of it
                              ready        present once the guest printed its ready marker this boot
                              accel        the accelerator the running QEMU was started with
                              host.boot    the host's boot id when QEMU was started
                              qmp.sock     QMP monitor
                              pid          QEMU's pid file: present while QEMU runs; QEMU
                                           removes it on a clean exit, so a pid file naming a
                                           dead process means QEMU crashed or was killed
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from hexagone.compute.driver import InstanceSpec, check_instance_id
from hexagone.compute.drivers import serial
from hexagone.compute.drivers.hostnet import pid_alive
from hexagone.compute.ipam import mac_for


def tap_name(instance_id: str) -> str:
    """The tap device of an instance (interface names are limited to 15 characters)."""
    return "hxt" + hashlib.sha256(instance_id.encode()).hexdigest()[:11]


def default_mac(instance_id: str) -> str:
    """A stable locally administered MAC for specs that carry none: the one the control plane
    allocates (``compute.ipam.mac_for``), so both sides agree."""
    return mac_for(instance_id)


def host_boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


class InstanceFiles:
    def __init__(self, state_dir: Path, instance_id: str) -> None:
        self.instance_id = check_instance_id(instance_id)
        self.path = state_dir / "instances" / instance_id
        self.spec_file = self.path / "spec.json"
        self.disk = self.path / "disk.qcow2"
        self.seed = self.path / "seed.iso"
        self.serial_log = self.path / "serial.log"
        self.qmp_socket = self.path / "qmp.sock"
        self.pidfile = self.path / "pid"
        self.serial_socket = self.path / "serial.sock"
        self.ready_file = self.path / "ready"
        self.accel_file = self.path / "accel"
        self.host_boot = self.path / "host.boot"

    def exists(self) -> bool:
        return self.spec_file.exists()

    def read_spec(self) -> InstanceSpec | None:
        try:
            return InstanceSpec.from_dict(json.loads(self.spec_file.read_text()))
        except FileNotFoundError:
            return None

    def write_spec(self, spec: InstanceSpec) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "spec.json.tmp"
        tmp.write_text(json.dumps(spec.to_dict(), indent=2, sort_keys=True))
        os.replace(tmp, self.spec_file)

    def live_pid(self) -> int | None:
        """QEMU's pid if it is alive and really this instance's QEMU (pids get reused)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and str(self.pidfile).encode() in cmdline:
            return pid
        return None

    def accel(self) -> str | None:
        try:
            return self.accel_file.read_text().strip() or None
        except OSError:
            return None

    def mark_boot(self, accel: str) -> None:
        """Record that a boot begins (the guest is not ready until it says so again), and the
        accelerator it runs on."""
        self.ready_file.unlink(missing_ok=True)
        self.accel_file.write_text(accel)
        self.host_boot.write_text(host_boot_id())

    def started_in_this_host_boot(self) -> bool:
        try:
            return self.host_boot.read_text() == host_boot_id()
        except OSError:
            return False

    def ready_seen(self) -> bool:
        """Whether the guest printed its ready marker since the current boot began (recorded by
        the console reader, so the log is never read for it)."""
        return self.ready_file.exists()

    def console_tail(self, tail_bytes: int) -> str:
        return serial.tail(self.serial_log, tail_bytes)

    def remove(self) -> None:
        """Delete the directory; ``spec.json`` goes last, so until then the leftovers stay listed."""
        if not self.path.exists():
            return
        for child in self.path.iterdir():
            if child == self.spec_file:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        self.spec_file.unlink(missing_ok=True)
        self.path.rmdir()
