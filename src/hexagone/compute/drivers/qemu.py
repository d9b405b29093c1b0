"""The real compute driver: one daemonised ``qemu-system-x86_64`` per instance, driven over QMP.

State lives on disk, one directory per instance (``qemu_files.InstanceFiles``); it is the only
source of truth, so a restarted agent finds every instance again. ``<state_dir>/accel.json``
caches the accelerator decision (``accel.py``).

Power states: pid file absent (or left by a previous host boot) → ``STOPPED``; pid alive →
QMP ``query-status`` (``running`` → ``RUNNING``, ``paused`` → ``PAUSED``, ``guest-panicked``/
``internal-error`` → ``CRASHED``); pid file of this host boot naming a dead process →
``CRASHED``. The guest is ready once ``READY_MARKER``
appears on its serial console after the current boot began (noticed by the console reader,
``serial.py``, which keeps the log bounded), and is at the address it was given.

QEMU runs inside the host network's namespace (``hostnet.py``) with one tap per instance.
Base images carrying an ``image.json`` (``hexagone.images.manifest``) boot their kernel
directly; others boot from the disk through the firmware.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hexagone.compute.driver import READY_MARKER, HostInventory, InstanceSpec, InstanceStatus, PowerState
from hexagone.compute.drivers import guestssh, serial
from hexagone.compute.drivers.accel import probe_accel
from hexagone.compute.drivers.hostnet import HostNetwork, HostNetworkConfig
from hexagone.compute.drivers.qemu_cmd import LaunchPlan, qemu_argv
from hexagone.compute.drivers.qemu_files import InstanceFiles, default_mac, tap_name, wait_dead
from hexagone.compute.drivers.qmp import QmpError, qmp
from hexagone.compute.drivers.seed import build_seed
from hexagone.errors import Conflict, InvalidInput, NotFound, PermanentError, TemporaryError
from hexagone.images.inspect import inspect_image
from hexagone.images.manifest import load_manifest

__all__ = ["QemuDriver", "QemuDriverConfig", "default_mac", "host_problem", "tap_name"]

log = logging.getLogger("hexagone.compute.qemu")

_QMP_STATES = {
    "running": PowerState.RUNNING,
    "paused": PowerState.PAUSED,
    "suspended": PowerState.PAUSED,
    "prelaunch": PowerState.PAUSED,
    "inmigrate": PowerState.PAUSED,
    "postmigrate": PowerState.PAUSED,
    "restore-vm": PowerState.PAUSED,
    "save-vm": PowerState.PAUSED,
    "debug": PowerState.PAUSED,
    "watchdog": PowerState.PAUSED,
    "guest-panicked": PowerState.CRASHED,
    "internal-error": PowerState.CRASHED,
    "io-error": PowerState.CRASHED,
    "shutdown": PowerState.STOPPED,
}


@dataclass(frozen=True)
class QemuDriverConfig:
    state_dir: Path
    network: HostNetworkConfig | None = None
    accel: str = "auto"
    qemu: str = "qemu-system-x86_64"
    machine: str = "q35"
    canary_image_dir: Path | None = None
    hotplug_ports: int = 4
    soft_reboot_timeout: float = 60.0
    serial_log_max_bytes: int = serial.DEFAULT_MAX_BYTES  # on disk: at most twice this per instance


HOST_TOOLS = ("qemu-system-x86_64", "qemu-img", "genisoimage", "dnsmasq", "ip", "nft", "ssh", "ssh-keygen")


def host_problem() -> str | None:
    """Why this host cannot run the QEMU driver, or ``None`` when it can."""
    if os.geteuid() != 0:
        return "the QEMU driver needs root (network namespaces, tap devices)"
    missing = [tool for tool in HOST_TOOLS if shutil.which(tool) is None
               and not Path("/usr/sbin", tool).exists() and not Path("/sbin", tool).exists()]
    if missing:
        return f"missing tools: {', '.join(missing)} (run scripts/setup.sh)"
    return None


class QemuDriver:
    """A ``ComputeDriver`` running real VMs with QEMU (KVM when it really works, TCG otherwise)."""

    def __init__(self, config: QemuDriverConfig) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.network = HostNetwork(config.network) if config.network is not None else None
        self._accel: str | None = None
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._readers: dict[str, serial.SerialReader] = {}

    # -- helpers ------------------------------------------------------------------------------

    def _files(self, instance_id: str) -> InstanceFiles:
        return InstanceFiles(self.state_dir, instance_id)

    def _lock(self, instance_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(instance_id, threading.Lock())

    def accel(self) -> str:
        if self._accel is None:
            canary = None
            if self.config.canary_image_dir is not None:
                cdir = self.config.canary_image_dir
                m = load_manifest(cdir)
                if m is not None and m.kernel and m.initrd:
                    canary = (cdir / m.kernel, cdir / m.initrd)
            self._accel = probe_accel(self.state_dir, self.config.qemu, canary, self.config.accel).accel
            if self.config.accel == "kvm" and self._accel != "kvm":
                raise PermanentError("KVM was configured but does not work on this host; see accel.json.")
        return self._accel

    def _observe(self, instance_id: str) -> InstanceStatus:
        f = self._files(instance_id)
        if not f.exists():
            return InstanceStatus(instance_id, PowerState.MISSING)
        accel = f.accel()
        pid = f.live_pid()
        if pid is None:
            if not f.pidfile.exists():
                return InstanceStatus(instance_id, PowerState.STOPPED, accel=accel)
            if not f.started_in_this_host_boot():
                return InstanceStatus(instance_id, PowerState.STOPPED, accel=accel,
                                      detail="The host rebooted since this instance was started.")
            return InstanceStatus(instance_id, PowerState.CRASHED, accel=accel,
                                  detail="QEMU exited without cleaning up (killed or crashed).")
        try:
            raw = qmp(f.qmp_socket, "query-status", timeout=3.0)["status"]
            state, detail = _QMP_STATES.get(raw, PowerState.RUNNING), f"qemu status {raw}"
        except QmpError as exc:
            state, detail = PowerState.RUNNING, f"monitor not answering: {exc.message}"
        self._read_console(f)
        ready = state is PowerState.RUNNING and f.ready_seen()
        problem = self._address_problem(f) if ready else ""
        return InstanceStatus(instance_id, state, guest_ready=ready and not problem, pid=pid, accel=accel,
                              detail=detail, problem=problem)

    def _read_console(self, f: InstanceFiles) -> None:
        """Make sure a reader copies the running QEMU's console into the bounded log (after a
        launch, and after an agent restart for guests that kept running)."""
        with self._guard:
            reader = self._readers.get(f.instance_id)
            if reader is not None and reader.alive():
                return
            try:
                sock = serial.connect(f.serial_socket)
            except OSError as exc:
                log.debug("console of %s not readable yet: %s", f.instance_id, exc)
                return
            self._readers[f.instance_id] = serial.SerialReader(
                sock, f.serial_log, f.ready_file, READY_MARKER.encode(), self.config.serial_log_max_bytes
            ).start()

    def _address_problem(self, f: InstanceFiles) -> str:
        """Why the guest is not at the address it was given, if it is not (dnsmasq could not read
        its reservation and leased a pool address instead, say)."""
        spec = f.read_spec()
        if self.network is None or spec is None or not spec.ip:
            return ""
        leased = self.network.lease_ip(spec.mac or default_mac(spec.instance_id))
        if leased is None or leased == spec.ip:
            return ""
        return (f"The guest took address {leased} instead of its own {spec.ip}, so it cannot be reached "
                f"at {spec.ip}: the host's DHCP server did not apply its reservation "
                f"(see {self.network.run_dir / 'dnsmasq.log'}). Reboot it once the host is fixed.")

    def _launch(self, f: InstanceFiles, spec: InstanceSpec) -> None:
        image = Path(spec.image_path).resolve()
        manifest = load_manifest(image.parent)
        kernel = initrd = None
        cmdline = ""
        if manifest is not None and manifest.disk == image.name and manifest.kernel:
            kernel = image.parent / manifest.kernel
            initrd = image.parent / manifest.initrd if manifest.initrd else None
            cmdline = manifest.cmdline
        sock = str(f.qmp_socket)
        tap = None
        mac = spec.mac or default_mac(spec.instance_id)
        if self.network is not None:
            tap = tap_name(spec.instance_id)
            self.network.add_port(tap, mac, spec.ip, spec.guest_hostname)
        plan = LaunchPlan(
            instance_id=spec.instance_id, vcpus=spec.vcpus, ram_mb=spec.ram_mb, accel=self.accel(),
            disk=f.disk, seed=f.seed, serial_socket=f.serial_socket.name, pidfile=f.pidfile,
            qmp_socket=sock if len(sock) < 100 else "qmp.sock", kernel=kernel, initrd=initrd,
            cmdline=cmdline, tap=tap, mac=mac, machine=self.config.machine,
            hotplug_ports=self.config.hotplug_ports,
        )
        argv = qemu_argv(plan, self.config.qemu)
        if self.network is not None:
            argv = self.network.exec_argv(argv)
        f.pidfile.unlink(missing_ok=True)
        f.mark_boot(plan.accel)
        with tempfile.TemporaryFile() as err:
            try:
                result = subprocess.run(
                    argv, cwd=f.path, stdout=subprocess.DEVNULL, stderr=err, check=False, timeout=60
                )
            except subprocess.TimeoutExpired as exc:
                raise TemporaryError(
                    f"QEMU took more than 60 s to start instance {spec.instance_id}; the host is overloaded.",
                    delay=30.0,
                ) from exc
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
        if result.returncode != 0:
            raise PermanentError(f"QEMU did not start instance {spec.instance_id}: {message[-500:]}")
        log.info("started instance %s (accel %s)", spec.instance_id, plan.accel)
        self._read_console(f)

    def _kill(self, f: InstanceFiles, grace: float) -> None:
        """Make QEMU go away: QMP ``quit``, then SIGKILL after ``grace`` seconds."""
        pid = f.live_pid()
        if pid is None:
            return
        with contextlib.suppress(QmpError):
            qmp(f.qmp_socket, "quit", timeout=2.0)
        if not wait_dead(pid, grace):
            os.kill(pid, signal.SIGKILL)
            wait_dead(pid, 10.0)

    def _teardown(self, instance_id: str) -> None:
        f = self._files(instance_id)
        spec = f.read_spec()
        self._kill(f, grace=3.0)
        with self._guard:
            reader = self._readers.pop(instance_id, None)
        if reader is not None:
            reader.stop()
        if self.network is not None:
            mac = (spec.mac if spec else "") or default_mac(instance_id)
            self.network.remove_port(tap_name(instance_id), mac)
        f.remove()

    def _existing(self, instance_id: str) -> tuple[InstanceFiles, InstanceSpec]:
        f = self._files(instance_id)
        spec = f.read_spec()
        if spec is None:
            raise NotFound(f"Instance {instance_id} does not exist on this host.")
        return f, spec

    # -- the contract -------------------------------------------------------------------------

    def capabilities(self) -> Mapping[str, object]:
        return {
            "accel": self.accel(),
            "machine": self.config.machine,
            "pause": True,
            "graceful_stop": True,
            "console_log": True,
            "guest_ready_signal": True,
            "enforces_capacity": False,
            "volume_hotplug": False,
            "live_migration": False,
            "network": "netns-bridge" if self.network is not None else "none",
        }

    def inventory(self) -> HostInventory:
        specs = [s for s in (self._files(i).read_spec() for i in self._instance_ids()) if s is not None]
        mem_kb = 0
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return HostInventory(
            vcpus=os.cpu_count() or 1,
            ram_mb=mem_kb // 1024,
            disk_gb=shutil.disk_usage(self.state_dir).total // 1024**3,
            capabilities=self.capabilities(),
            vcpus_used=sum(s.vcpus for s in specs),
            ram_mb_used=sum(s.ram_mb for s in specs),
            disk_gb_used=sum(s.disk_gb for s in specs),
        )

    def spawn(self, spec: InstanceSpec) -> InstanceStatus:
        with self._lock(spec.instance_id):
            f = self._files(spec.instance_id)
            existing = f.read_spec()
            if existing is not None:
                if existing != spec:
                    raise Conflict(
                        f"Instance {spec.instance_id} already exists here with a different spec; "
                        "destroy it first or use another id."
                    )
                return self._observe(spec.instance_id)
            image = Path(spec.image_path).resolve()
            try:
                info = inspect_image(image, spec.image_format, max_virtual_size=spec.disk_gb * 1024**3)
            except InvalidInput as exc:
                raise PermanentError(
                    f"Instance {spec.instance_id} cannot boot its image: {exc.message}"
                ) from exc
            self.accel()
            try:
                f.write_spec(spec)
                subprocess.run(
                    ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.resolve()), "-F", info.format,
                     str(f.disk), f"{spec.disk_gb}G"],
                    check=True, capture_output=True, text=True,
                )
                build_seed(f.seed, spec)
                self._launch(f, spec)
            except BaseException as exc:
                log.warning("spawn of %s failed, cleaning up: %s", spec.instance_id, exc)
                self._teardown(spec.instance_id)
                if isinstance(exc, subprocess.CalledProcessError):
                    raise PermanentError(
                        f"Could not create the disk of {spec.instance_id}: {exc.stderr}"
                    ) from exc
                raise
            return self._observe(spec.instance_id)

    def start(self, instance_id: str) -> InstanceStatus:
        with self._lock(instance_id):
            f, spec = self._existing(instance_id)
            if f.live_pid() is None:
                if not f.disk.exists():
                    raise PermanentError(
                        f"The disk of instance {instance_id} is gone; destroy and respawn it."
                    )
                self._launch(f, spec)
            return self._observe(instance_id)

    def stop(self, instance_id: str, timeout: float = 60.0) -> InstanceStatus:
        with self._lock(instance_id):
            f, _ = self._existing(instance_id)
            pid = f.live_pid()
            if pid is not None:
                try:
                    if self._observe(instance_id).power_state is PowerState.PAUSED:
                        qmp(f.qmp_socket, "cont")
                    qmp(f.qmp_socket, "system_powerdown")
                except QmpError as exc:
                    log.warning("graceful stop of %s failed, forcing: %s", instance_id, exc.message)
                if not wait_dead(pid, timeout):
                    log.info("instance %s ignored ACPI powerdown for %.0f s; forcing it off",
                             instance_id, timeout)
                    self._kill(f, grace=5.0)
            f.pidfile.unlink(missing_ok=True)
            return self._observe(instance_id)

    def reboot(self, instance_id: str, hard: bool = False) -> InstanceStatus:
        f, _ = self._existing(instance_id)
        if f.live_pid() is None:
            return self.start(instance_id)
        if not hard:
            self.stop(instance_id, timeout=self.config.soft_reboot_timeout)
            return self.start(instance_id)
        with self._lock(instance_id):
            f.mark_boot(f.accel() or self.accel())
            qmp(f.qmp_socket, "system_reset")
            return self._observe(instance_id)

    def pause(self, instance_id: str) -> InstanceStatus:
        return self._qmp_verb(instance_id, "stop")

    def unpause(self, instance_id: str) -> InstanceStatus:
        return self._qmp_verb(instance_id, "cont")

    def _qmp_verb(self, instance_id: str, command: str) -> InstanceStatus:
        with self._lock(instance_id):
            f, _ = self._existing(instance_id)
            if f.live_pid() is not None:
                qmp(f.qmp_socket, command)
            return self._observe(instance_id)

    def destroy(self, instance_id: str) -> None:
        with self._lock(instance_id):
            self._teardown(instance_id)
        with self._guard:
            self._locks.pop(instance_id, None)

    def status(self, instance_id: str) -> InstanceStatus:
        return self._observe(instance_id)

    def list_instances(self) -> Sequence[InstanceStatus]:
        return [self._observe(i) for i in self._instance_ids()]

    def _instance_ids(self) -> list[str]:
        root = self.state_dir / "instances"
        if not root.exists():
            return []
        return sorted(d.name for d in root.iterdir() if (d / "spec.json").exists())

    def get_spec(self, instance_id: str) -> InstanceSpec:
        return self._existing(instance_id)[1]

    def console_log(self, instance_id: str, tail_bytes: int = 65536) -> str:
        return self._existing(instance_id)[0].console_tail(tail_bytes)

    # -- beyond the contract: reaching the guest ----------------------------------------------

    def guest_address(self, instance_id: str) -> str | None:
        """The guest's IPv4 address: the spec's, else the one dnsmasq leased to its MAC."""
        spec = self.get_spec(instance_id)
        if spec.ip:
            return spec.ip
        if self.network is None:
            return None
        return self.network.lease_ip(spec.mac or default_mac(instance_id))

    def ssh(
        self, instance_id: str, command: str, key_path: Path, user: str = "root", timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the guest over SSH, from inside the host network's namespace."""
        ip = self.guest_address(instance_id)
        if ip is None:
            raise NotFound(
                f"Instance {instance_id} has no known address yet; wait for its guest to be ready."
            )
        return guestssh.run_in_guest(self.network, ip, command, key_path, user, timeout)

