"""An in-process compute driver: claims resources, fails and lags on demand, boots nothing.

First-class implementation of ``ComputeDriver``, used by tests and to simulate thousands of hosts
(one instance costs one small slotted object). Failures are injected by parameters::

    FakeDriver(fail_on={"spawn": PermanentError("The image is corrupt.")}, delays={"spawn": 0.5})

Capacity has one source of truth, the region's placement (the host's totals × its overcommit
ratios): like QEMU, the fake never refuses a spawn for lack of room; a host that runs out of room is
played with ``fail_on={"spawn": TemporaryError(...)}``.

``fail_on`` maps a method name to an exception raised on each call (edit the dict to change it);
``delays`` maps a method name to seconds slept before acting, and ``"boot"`` to seconds between
power-on and ``guest_ready`` (a soft reboot sleeps the ``"stop"`` delay too: a slow guest
shutdown). The ``simulate_*`` methods play what a real host can do behind the
agent's back (a crash, a guest shutting itself down).

With ``state_path``, the instances are also kept in that JSON file (rewritten atomically at each
change) and found again by a new driver on the same file: the guests outlive a killed agent, as a
hypervisor's do, and a test can see from outside which guests "run" on the host.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hexagone.compute.driver import HostInventory, InstanceSpec, InstanceStatus, PowerState
from hexagone.errors import Conflict, NotFound

DEFAULT_INVENTORY = HostInventory(vcpus=32, ram_mb=131072, disk_gb=2000)
_CONSOLE_LINES = 8


class _Instance:
    __slots__ = ("spec", "state", "booted_at", "pid", "console")

    def __init__(self, spec: InstanceSpec, pid: int) -> None:
        self.spec = spec
        self.state = PowerState.STOPPED
        self.booted_at = 0.0
        self.pid = pid
        self.console: list[str] = []


class FakeDriver:
    """A ``ComputeDriver`` that keeps instances in memory."""

    def __init__(
        self,
        fail_on: Mapping[str, Exception] | None = None,
        delays: Mapping[str, float] | None = None,
        inventory: HostInventory = DEFAULT_INVENTORY,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        state_path: Path | None = None,
    ) -> None:
        self.fail_on: dict[str, Exception] = dict(fail_on or {})
        self.delays: dict[str, float] = dict(delays or {})
        self._inventory = inventory
        self._monotonic = monotonic
        self._sleep = sleep
        self._instances: dict[str, _Instance] = {}
        self._lock = threading.Lock()
        self._next_pid = 1000
        self.reboots: list[tuple[str, bool]] = []  # (instance_id, hard) of each reboot done
        self._state_path = state_path
        if state_path is not None and state_path.exists():
            self._load(state_path)

    # -- optional persistence ------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        for item in json.loads(path.read_text()):
            spec = dict(item["spec"])
            spec["ssh_authorized_keys"] = tuple(spec.get("ssh_authorized_keys") or ())
            inst = _Instance(InstanceSpec(**spec), pid=int(item["pid"]))
            inst.state = PowerState(item["state"])
            inst.console = list(item.get("console") or [])
            self._instances[inst.spec.instance_id] = inst
            self._next_pid = max(self._next_pid, inst.pid)

    def _save(self) -> None:
        """Called with the lock held, after each change."""
        if self._state_path is None:
            return
        data = [{"spec": dataclasses.asdict(i.spec) | {"metadata": dict(i.spec.metadata)}, "state": i.state.value,
                 "pid": i.pid, "console": i.console} for i in self._instances.values()]
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._state_path)

    # -- injected behaviour -------------------------------------------------------------------

    def _enter(self, method: str) -> None:
        delay = self.delays.get(method, 0.0)
        if delay:
            self._sleep(delay)
        error = self.fail_on.get(method)
        if error is not None:
            raise error

    def _get(self, instance_id: str) -> _Instance:
        inst = self._instances.get(instance_id)
        if inst is None:
            raise NotFound(f"Instance {instance_id} does not exist on this host.")
        return inst

    def _power_on(self, inst: _Instance) -> None:
        inst.state = PowerState.RUNNING
        inst.booted_at = self._monotonic()
        self._next_pid += 1
        inst.pid = self._next_pid
        inst.console.append(f"fake boot of {inst.spec.guest_hostname}")
        del inst.console[:-_CONSOLE_LINES]

    def _status(self, inst: _Instance) -> InstanceStatus:
        running = inst.state is PowerState.RUNNING
        ready = running and self._monotonic() - inst.booted_at >= self.delays.get("boot", 0.0)
        return InstanceStatus(
            instance_id=inst.spec.instance_id,
            power_state=inst.state,
            guest_ready=ready,
            pid=inst.pid if inst.state in (PowerState.RUNNING, PowerState.PAUSED) else None,
            accel="fake",
        )

    # -- the contract -------------------------------------------------------------------------

    def capabilities(self) -> Mapping[str, object]:
        return {
            "accel": "fake",
            "pause": True,
            "graceful_stop": True,
            "console_log": True,
            "guest_ready_signal": True,
            "enforces_capacity": False,
        }

    def inventory(self) -> HostInventory:
        self._enter("inventory")
        with self._lock:
            specs = [i.spec for i in self._instances.values()]
        base = self._inventory
        return HostInventory(
            vcpus=base.vcpus,
            ram_mb=base.ram_mb,
            disk_gb=base.disk_gb,
            capabilities=self.capabilities(),
            vcpus_used=sum(s.vcpus for s in specs),
            ram_mb_used=sum(s.ram_mb for s in specs),
            disk_gb_used=sum(s.disk_gb for s in specs),
        )

    def spawn(self, spec: InstanceSpec) -> InstanceStatus:
        self._enter("spawn")
        with self._lock:
            existing = self._instances.get(spec.instance_id)
            if existing is not None:
                if existing.spec != spec:
                    raise Conflict(
                        f"Instance {spec.instance_id} already exists here with a different spec; "
                        "destroy it first or use another id."
                    )
                return self._status(existing)
            inst = _Instance(spec, pid=0)
            self._power_on(inst)
            self._instances[spec.instance_id] = inst
            self._save()
            return self._status(inst)

    def start(self, instance_id: str) -> InstanceStatus:
        self._enter("start")
        with self._lock:
            inst = self._get(instance_id)
            if inst.state in (PowerState.STOPPED, PowerState.CRASHED):
                self._power_on(inst)
                self._save()
            return self._status(inst)

    def stop(self, instance_id: str, timeout: float = 60.0) -> InstanceStatus:
        self._enter("stop")
        with self._lock:
            inst = self._get(instance_id)
            inst.state = PowerState.STOPPED
            self._save()
            return self._status(inst)

    def reboot(self, instance_id: str, hard: bool = False) -> InstanceStatus:
        """A soft reboot is a graceful stop then a start, so it also takes the ``stop`` delay."""
        self._enter("reboot")
        if not hard:
            self._enter("stop")
        with self._lock:
            inst = self._get(instance_id)
            self._power_on(inst)
            self.reboots.append((instance_id, hard))
            self._save()
            return self._status(inst)

    def pause(self, instance_id: str) -> InstanceStatus:
        self._enter("pause")
        with self._lock:
            inst = self._get(instance_id)
            if inst.state is PowerState.RUNNING:
                inst.state = PowerState.PAUSED
                self._save()
            return self._status(inst)

    def unpause(self, instance_id: str) -> InstanceStatus:
        self._enter("unpause")
        with self._lock:
            inst = self._get(instance_id)
            if inst.state is PowerState.PAUSED:
                inst.state = PowerState.RUNNING
                self._save()
            return self._status(inst)

    def destroy(self, instance_id: str) -> None:
        self._enter("destroy")
        with self._lock:
            if self._instances.pop(instance_id, None) is not None:
                self._save()

    def status(self, instance_id: str) -> InstanceStatus:
        self._enter("status")
        with self._lock:
            inst = self._instances.get(instance_id)
            if inst is None:
                return InstanceStatus(instance_id=instance_id, power_state=PowerState.MISSING, accel="fake")
            return self._status(inst)

    def list_instances(self) -> Sequence[InstanceStatus]:
        self._enter("list_instances")
        with self._lock:
            return [self._status(self._instances[k]) for k in sorted(self._instances)]

    def get_spec(self, instance_id: str) -> InstanceSpec:
        self._enter("get_spec")
        with self._lock:
            return self._get(instance_id).spec

    def console_log(self, instance_id: str, tail_bytes: int = 65536) -> str:
        self._enter("console_log")
        with self._lock:
            text = "\n".join(self._get(instance_id).console) + "\n"
        return text.encode()[-tail_bytes:].decode(errors="replace")

    # -- what a real host does behind the agent's back ------------------------------------------

    def simulate_crash(self, instance_id: str) -> None:
        """The hypervisor process dies: the instance becomes ``CRASHED``."""
        with self._lock:
            self._get(instance_id).state = PowerState.CRASHED
            self._save()

    def simulate_guest_shutdown(self, instance_id: str) -> None:
        """The guest powers itself off: the instance becomes ``STOPPED``."""
        with self._lock:
            self._get(instance_id).state = PowerState.STOPPED
            self._save()
