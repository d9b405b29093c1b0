"""The agent's reconcile loop. Every step is idempotent and safe to repeat after a crash:
desired state comes from the control plane, actual state from the driver (which keeps its own
state on disk), and the small local memory of done reboots lives in the state directory.

Driver operations run in worker threads, at most one at a time per instance: a guest that takes a
minute to shut down holds its own worker only, while the loop keeps heartbeating, reporting and
converging every other instance."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexagone.agent.client import AgentClient
from hexagone.agent.images import ImageCache
from hexagone.compute.driver import ComputeDriver, InstanceSpec, PowerState
from hexagone.errors import HexagoneError, PermanentError, TemporaryError, Unauthenticated

log = logging.getLogger("hexagone.agent")
VERSION = "0.1.0"
#: Exit status of an agent whose credential the control plane refuses (decommissioned host).
EXIT_REVOKED = 3


@dataclass
class AgentConfig:
    url: str
    state_dir: Path
    name: str
    join_token: str | None = None
    heartbeat_interval: float = 10.0
    poll_wait: float = 10.0
    busy_poll: float = 1.0
    stop_timeout: float = 30.0
    network_cidr: str | None = None
    network_namespace: str | None = None
    workers: int = 32  # driver operations in flight at once (one per instance at most)
    converge_wait: float = 1.0  # how long a round waits for its operations before reporting


class Agent:
    def __init__(self, config: AgentConfig, driver: ComputeDriver) -> None:
        self.config = config
        self.driver = driver
        self.state_dir = config.state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.client = AgentClient(config.url)
        self.images = ImageCache(self.state_dir / "image-cache", self.client)
        self.revision = 0
        self.desired: dict[str, dict[str, Any]] = {}
        self._last_heartbeat = 0.0
        self._console_sent: dict[str, int] = {}
        self._errors: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}
        self._pending: set[str] = set()
        # Reports are numbered within this process (a new boot id at each start), and name the
        # desired revision they were observed against: the control plane ignores stale ones.
        self.boot_id = uuid.uuid4().hex
        self._seq = 0
        self._destroyed: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="hx-op")
        self._workers: dict[str, Future[None]] = {}
        self._reboot_lock = threading.Lock()
        self._reboot_done = self._load_reboots()

    # -- identity ---------------------------------------------------------------------------

    def _inventory(self) -> dict[str, Any]:
        inv = self.driver.inventory()
        caps = {k: v for k, v in self.driver.capabilities().items() if isinstance(v, str | int | float | bool)}
        if self.config.network_cidr:
            caps["network_cidr"] = self.config.network_cidr
        if self.config.network_namespace:
            caps["network_namespace"] = self.config.network_namespace
        return {"vcpus": inv.vcpus, "ram_mb": inv.ram_mb, "disk_gb": inv.disk_gb,
                "capabilities": caps, "agent_version": VERSION}

    def ensure_joined(self) -> None:
        cred_file = self.state_dir / "credential"
        if cred_file.exists():
            self.client.credential = cred_file.read_text().strip()
            return
        if not self.config.join_token:
            raise PermanentError("This host has not joined a region: pass --join-token (ask the operator for one).")
        res = self.client.join(self.config.join_token, self.config.name, self._inventory())
        fd = os.open(cred_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(res["credential"])
        self.client.credential = res["credential"]
        log.info("joined as host %s", res["host_id"])

    # -- local memory of reboots ------------------------------------------------------------

    def _load_reboots(self) -> dict[str, int]:
        path = self.state_dir / "reboots.json"
        data: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
        return data

    def _reboots(self) -> dict[str, int]:
        with self._reboot_lock:
            return dict(self._reboot_done)

    def _set_reboot(self, instance_id: str, seq: int) -> None:
        with self._reboot_lock:
            self._reboot_done[instance_id] = seq
            tmp = self.state_dir / ".reboots.json"
            tmp.write_text(json.dumps(self._reboot_done))
            os.replace(tmp, self.state_dir / "reboots.json")

    # -- one round -----------------------------------------------------------------------------

    def step(self, wait: float | None = None) -> None:
        """Heartbeat if due, pull desired state (long-poll), converge, report."""
        now = time.monotonic()
        if now - self._last_heartbeat >= self.config.heartbeat_interval:
            self.client.heartbeat(self._inventory())
            self._last_heartbeat = now
        res = self.client.desired(self.revision, self.config.poll_wait if wait is None else wait)
        if res.get("changed"):
            self.revision = int(res["revision"])
            self.desired = {i["instance_id"]: i for i in res["instances"]}
        self.converge()
        self.report()

    def busy(self) -> bool:
        """True while some instance is in transition (the loop then polls faster)."""
        return bool(self._pending)

    def converge(self) -> None:
        """Give each instance whose worker is free a worker that converges it, then wait at most
        ``converge_wait`` seconds for them: quick operations finish within the round, slow ones
        (a soft reboot waiting for ACPI) go on while the next rounds run."""
        self._pending = set()
        started = []
        for iid, want in self.desired.items():
            running = self._workers.get(iid)
            if (running is not None and not running.done()) or self._retry_at.get(iid, 0) > time.monotonic():
                self._pending.add(iid)
                continue
            self._workers[iid] = future = self._pool.submit(self._converge_guarded, iid, want)
            started.append(future)
        for iid in [i for i, f in self._workers.items() if f.done() and i not in self.desired]:
            del self._workers[iid]
        wait_futures(started, timeout=self.config.converge_wait)
        self._pending.update(i for i, f in self._workers.items() if not f.done())

    def _converge_guarded(self, iid: str, want: dict[str, Any]) -> None:
        try:
            self._converge_one(iid, want, self.driver.status(iid), self._reboots())
        except TemporaryError as exc:
            log.warning("instance %s: %s", iid, exc.message)
            self._retry_at[iid] = time.monotonic() + exc.delay
            self._pending.add(iid)
        except HexagoneError as exc:
            log.error("instance %s: %s", iid, exc.message)
            self._errors[iid] = exc.message
        except Exception:  # a bug must not kill the worker silently
            log.exception("instance %s: unexpected error while converging", iid)

    def _converge_one(self, iid: str, want: dict[str, Any], have: Any, reboots: dict[str, int]) -> None:
        power = want["desired_power"]
        if power == "deleted":
            self.driver.destroy(iid)
            self._destroyed.add(iid)
            self._errors.pop(iid, None)
            return
        exists = have is not None and have.power_state is not PowerState.MISSING
        if not exists:
            if iid in self._errors:
                return  # a permanent failure was reported; the user deletes or retries
            if power == "stopped":
                return
            disk = self.images.ensure(want["image"])
            spec = InstanceSpec(
                instance_id=iid, name=want["name"], vcpus=want["vcpus"], ram_mb=want["ram_mb"],
                disk_gb=want["disk_gb"], image_path=str(disk), image_format=want["image"].get("disk_format", "qcow2"),
                ssh_authorized_keys=tuple(want.get("ssh_authorized_keys") or ()), user_data=want.get("user_data"),
                hostname=want.get("hostname") or "", mac=want.get("mac") or "", ip=want.get("ip"),
                metadata=want.get("metadata") or {}, admin_password_hash=want.get("admin_password_hash"),
            )
            self.driver.spawn(spec)
            self._set_reboot(iid, int(want.get("reboot_seq", 0)))
            self._pending.add(iid)
            return
        state = have.power_state
        if power == "running":
            if int(want.get("reboot_seq", 0)) > reboots.get(iid, 0):
                if state in (PowerState.STOPPED, PowerState.CRASHED):
                    self.driver.start(iid)
                else:
                    self.driver.reboot(iid, hard=want.get("reboot_type") == "HARD")
                self._set_reboot(iid, int(want["reboot_seq"]))
                self._pending.add(iid)
            elif state is PowerState.STOPPED:
                self.driver.start(iid)
                self._pending.add(iid)
            elif state is PowerState.PAUSED:
                self.driver.unpause(iid)
        elif power == "stopped" and state in (PowerState.RUNNING, PowerState.PAUSED):
            self.driver.stop(iid, self.config.stop_timeout)

    def report(self) -> None:
        observations = []
        reboots = self._reboots()
        desired_ids = set(self.desired)
        revision = self.revision
        self._destroyed &= desired_ids
        for iid, want in self.desired.items():
            status = self.driver.status(iid)
            obs: dict[str, Any] = {
                "instance_id": iid, "power_state": status.power_state.value, "guest_ready": status.guest_ready,
                "reboot_seq_done": reboots.get(iid, -1), "accel": status.accel,
            }
            if iid in self._destroyed and status.power_state is PowerState.MISSING:
                obs["destroyed"] = True
            if status.problem:
                obs["detail"] = status.problem
            if iid in self._errors and status.power_state is PowerState.MISSING and want["desired_power"] != "deleted":
                obs["power_state"] = "ERROR"
                obs["detail"] = self._errors[iid]
            if status.power_state is not PowerState.MISSING and want["desired_power"] != "deleted":
                if not status.guest_ready or iid in self._pending:
                    self._pending.add(iid)
                try:
                    tail = self.driver.console_log(iid, 16384)
                except HexagoneError:
                    tail = ""
                if tail and hash(tail) != self._console_sent.get(iid):
                    obs["console_tail"] = tail
                    self._console_sent[iid] = hash(tail)
            observations.append(obs)
        unmanaged = [s.instance_id for s in self.driver.list_instances() if s.instance_id not in desired_ids]
        if unmanaged:
            log.warning("unmanaged instances on this host (left alone): %s", ", ".join(unmanaged))
        self._seq += 1
        self.client.report(self.boot_id, self._seq, revision, observations, unmanaged)

    def run_forever(self) -> int:
        """Run until the control plane refuses this host's credential (401: the host was
        decommissioned or never joined): then log why, set the credential file aside (so a restart
        with a new join token joins again) and return ``EXIT_REVOKED``. Running VMs are left alone.
        Every other failure is retried."""
        try:
            while True:
                try:
                    self.ensure_joined()
                    break
                except TemporaryError as exc:
                    log.warning("%s", exc.message)
                    time.sleep(exc.delay)
            self._pending = set()
            while True:
                try:
                    self.step(wait=self.config.busy_poll if self.busy() else None)
                except Unauthenticated:
                    raise
                except TemporaryError as exc:
                    log.warning("%s", exc.message)
                    time.sleep(exc.delay)
                except HexagoneError as exc:
                    log.error("%s", exc.message)
                    time.sleep(5)
        except Unauthenticated as exc:
            return self.revoked(exc.message)

    def revoked(self, reason: str) -> int:
        cred_file = self.state_dir / "credential"
        if cred_file.exists():
            os.replace(cred_file, self.state_dir / "credential.revoked")
        log.critical("agent stopping: the control plane refused this host's credential (%s) The agent "
                     "will not retry; running VMs are left as they are.", reason)
        return EXIT_REVOKED
