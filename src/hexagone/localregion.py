"""The one-machine region's processes on this machine: what ``hexagone up`` leaves running when it
stops, and ``hexagone down`` (``make down``), which stops all of it.

What belongs to a region is found from its data directory only, never by process name, so a
second region on the same machine is never touched:

* ``<data_dir>/up.json``: the pids of ``hexagone up`` and of its compute agent;
* ``<data_dir>/agent/qemu/instances/*``: its guests (QEMU pid files, checked against the cmdline);
* ``<data_dir>/agent/network.json`` (``regionnet``): its namespace, whose processes (QEMU, dnsmasq)
  are this region's alone, and its runtime directory under ``/run/hexagone/<region id>/``.

``down`` stops the guests (ACPI, then forced), dnsmasq and every process left in the namespace,
deletes the namespace (bridge and taps with it) and the runtime directory. Data stays (database,
images, guest disks): the next ``make up`` starts the guests again; ``make clean`` deletes data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hexagone.compute.drivers import regionnet
from hexagone.compute.drivers.hostnet import HostNetwork, pid_alive
from hexagone.compute.drivers.qemu import QemuDriver, QemuDriverConfig


def pids_file(data_dir: Path) -> Path:
    return data_dir / "up.json"


def record_pid(data_dir: Path, role: str, pid: int) -> None:
    path = pids_file(data_dir)
    data = _read(path)
    data[role] = pid
    tmp = path.with_name(".up.json.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _is_hexagone(pid: int) -> bool:
    try:
        return b"hexagone" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _driver(data_dir: Path, net: regionnet.RegionNetwork | None) -> QemuDriver | None:
    state = data_dir / "agent" / "qemu"
    if not (state / "instances").is_dir():
        return None
    return QemuDriver(QemuDriverConfig(state_dir=state, network=net.host_network_config() if net else None))


@dataclass
class Leftovers:
    """What of a region still runs on this machine."""

    guests: list[str] = field(default_factory=list)
    namespace: str | None = None
    dnsmasq: bool = False

    def __bool__(self) -> bool:
        return bool(self.guests or self.namespace)


def leftovers(data_dir: Path) -> Leftovers:
    net = regionnet.recorded(data_dir)
    left = Leftovers()
    driver = _driver(data_dir, net)
    if driver is not None:
        left.guests = [s.instance_id for s in driver.list_instances() if s.pid is not None]
    if net is not None and regionnet.namespace_exists(net.namespace):
        left.namespace = net.namespace
        left.dnsmasq = HostNetwork(net.host_network_config()).dnsmasq_pid() is not None
    return left


def _terminate(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _namespace_pids(namespace: str) -> list[int]:
    ip = shutil.which("ip") or "/usr/sbin/ip"
    out = subprocess.run([ip, "netns", "pids", namespace], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split() if p.isdigit()]


def down(data_dir: Path, stop_timeout: float = 10.0) -> list[str]:
    """Stop everything of the region of ``data_dir`` and remove what it created on the host;
    idempotent. Returns one line per thing done."""
    data_dir = data_dir.resolve()
    done: list[str] = []
    pids = _read(pids_file(data_dir))
    for role in ("up", "agent"):
        pid = pids.get(role)
        if pid and pid_alive(pid) and _is_hexagone(pid) and pid != os.getpid():
            _terminate(pid)
            done.append(f"stopped {'the control plane' if role == 'up' else 'the compute agent'} (pid {pid})")
    pids_file(data_dir).unlink(missing_ok=True)
    net = regionnet.recorded(data_dir)
    driver = _driver(data_dir, net)
    if driver is not None:
        for status in driver.list_instances():
            if status.pid is not None:
                driver.stop(status.instance_id, timeout=stop_timeout)
                done.append(f"stopped guest {status.instance_id}")
    if net is not None:
        if regionnet.namespace_exists(net.namespace):
            for pid in _namespace_pids(net.namespace):  # whatever is left in this region's namespace
                _terminate(pid, timeout=3.0)
        hostnet = HostNetwork(net.host_network_config())
        if hostnet.exists() or hostnet.run_dir.exists():
            hostnet.teardown()
            done.append(f"removed network namespace {net.namespace} (bridge {net.bridge}, taps, dnsmasq)")
        runtime = net.runtime_dir
        if runtime.exists():
            shutil.rmtree(runtime)
            done.append(f"removed {runtime}")
    return done
