"""The compute driver seam: what a compute host can do with virtual machines.

One contract, several implementations (``drivers.fake.FakeDriver`` for tests and scale,
``drivers.qemu.QemuDriver`` for real VMs). The host agent is the only caller; the control plane
never talks to a driver directly.

Rules every implementation follows:

* **Ids belong to the caller.** ``instance_id`` is chosen by the control plane and is the only key;
  the driver never invents or renames ids. Everything the driver creates on the host for an
  instance (process, pid, disk overlay, seed, tap device, serial log) is derived from that id and
  owned by the driver: nobody else deletes it, and ``destroy`` deletes all of it.
* **Idempotent verbs.** Every method can be repeated after a crash of the caller: spawning an
  existing id with the same spec returns its status; starting a running instance, stopping a
  stopped one and destroying a missing one succeed without doing anything.
* **No half-made instances.** If ``spawn`` fails, the driver removes what it created before
  raising, so the instance is ``MISSING`` afterwards and the call can simply be retried.
* **Instances outlive the driver object.** Instances keep running when the agent stops;
  ``list_instances`` finds them again (from state on disk and process liveness) after a restart.
* **Errors** are ``hexagone.errors`` types: ``TemporaryError(delay=)`` (retry later),
  ``PermanentError`` (retrying will not help), ``NotFound`` (an unknown id, for verbs that need
  one), ``Conflict`` (same id, different spec), ``InvalidInput`` (a malformed spec).
* **Optional features are capabilities**, listed by ``capabilities()`` for the scheduler to filter
  on; no method ever raises ``NotImplementedError``.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from hexagone.compute.guest_password import is_sha512_crypt
from hexagone.errors import InvalidInput, TemporaryError

READY_MARKER = "HEXAGONE-GUEST-READY"
"""The line a guest prints on its serial console once it is reachable (network up, sshd started)."""

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOSTNAME_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_FORMATS = ("qcow2", "raw")


def check_instance_id(instance_id: str) -> str:
    """Return ``instance_id`` if it is safe as a file name and a process label, else ``InvalidInput``."""
    if not _ID_RE.match(instance_id) or instance_id in (".", ".."):
        raise InvalidInput(
            f"Instance id {instance_id!r} is not valid: use 1-64 letters, digits, '.', '_' or '-'."
        )
    return instance_id


def hostname_label(name: str) -> str:
    """A valid DNS label derived from an instance's display name (used by the control plane and
    by drivers alike)."""
    label = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-")[:63].strip("-")
    return label or "instance"


class PowerState(StrEnum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    PAUSED = "PAUSED"
    CRASHED = "CRASHED"
    MISSING = "MISSING"


@dataclass(frozen=True)
class InstanceSpec:
    """Everything a host needs to run one instance. Built by the control plane, stored by the driver.

    ``image_path`` is a base image already present on this host; the driver never writes to it.
    ``mac`` is allocated by the control plane; ``ip``/``prefix``/``gateway`` describe the NIC's
    address (``ip=None``: the host network picks one by DHCP). ``user_data`` is passed to the guest
    verbatim (cloud-init), next to what the driver generates (hostname, keys, ready marker).
    ``admin_password_hash`` is a SHA-512 crypt hash (``$6$...``, never a clear password) the seed
    sets for the image's default user; None sets no password.
    """

    instance_id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    image_path: str
    image_format: str = "qcow2"
    ssh_authorized_keys: tuple[str, ...] = ()
    user_data: str | None = None
    hostname: str = ""
    mac: str = ""
    ip: str | None = None
    prefix: int = 24
    gateway: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    admin_password_hash: str | None = None

    def __post_init__(self) -> None:
        check_instance_id(self.instance_id)
        if self.vcpus < 1 or self.ram_mb < 16 or self.disk_gb < 1:
            raise InvalidInput("An instance needs at least 1 vCPU, 16 MB of RAM and a 1 GB disk.")
        if self.image_format not in _FORMATS:
            raise InvalidInput(f"Image format {self.image_format!r} is not supported: use qcow2 or raw.")
        if self.hostname and not _HOSTNAME_RE.match(self.hostname):
            raise InvalidInput(f"Hostname {self.hostname!r} is not a valid DNS label.")
        if self.mac and not _MAC_RE.match(self.mac):
            raise InvalidInput(f"MAC address {self.mac!r} is not valid: use lowercase aa:bb:cc:dd:ee:ff.")
        if not 0 < self.prefix <= 32:
            raise InvalidInput(f"Prefix length {self.prefix} is not valid for IPv4.")
        for label, address in (("IP address", self.ip), ("Gateway", self.gateway)):
            if address is not None:
                try:
                    ipaddress.IPv4Address(address)
                except ValueError:
                    raise InvalidInput(f"{label} {address!r} is not a valid IPv4 address.") from None
        for key in self.ssh_authorized_keys:
            if any(c in key for c in "\n\r\"\\") or len(key.split()) < 2:
                raise InvalidInput(
                    "An SSH public key must be one line 'type base64 [comment]' without quotes."
                )
        if self.admin_password_hash is not None and not is_sha512_crypt(self.admin_password_hash):
            raise InvalidInput("admin_password_hash must be a SHA-512 crypt hash ($6$...), never a password.")
        object.__setattr__(self, "ssh_authorized_keys", tuple(self.ssh_authorized_keys))
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def guest_hostname(self) -> str:
        """The hostname the guest gets: ``hostname`` or, failing that, a label derived from ``name``."""
        return self.hostname or hostname_label(self.name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ssh_authorized_keys"] = list(self.ssh_authorized_keys)
        data["metadata"] = dict(self.metadata)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceSpec:
        values = dict(data)
        values["ssh_authorized_keys"] = tuple(values.get("ssh_authorized_keys", ()))
        return cls(**values)


@dataclass(frozen=True)
class InstanceStatus:
    """What the host observes about one instance right now.

    ``problem`` is a sentence for the instance's owner when something is wrong although it runs
    (the guest took another address than its own, for instance); ``guest_ready`` is then false."""

    instance_id: str
    power_state: PowerState
    guest_ready: bool = False
    pid: int | None = None
    accel: str | None = None
    detail: str = ""
    problem: str = ""


@dataclass(frozen=True)
class HostInventory:
    """Capacity of the host (totals) and what its instances claim (``*_used``)."""

    vcpus: int
    ram_mb: int
    disk_gb: int
    capabilities: Mapping[str, object] = field(default_factory=dict)
    vcpus_used: int = 0
    ram_mb_used: int = 0
    disk_gb_used: int = 0


@runtime_checkable
class ComputeDriver(Protocol):
    """The contract between the host agent and one hypervisor technology."""

    def capabilities(self) -> Mapping[str, object]:
        """Features this host offers, for the scheduler to filter on.

        Always includes ``accel`` (``"kvm"``, ``"tcg"`` or ``"fake"``). Boolean features:
        ``pause``, ``graceful_stop`` (ACPI powerdown is honoured), ``console_log``,
        ``guest_ready_signal``, ``enforces_capacity`` (spawn refuses beyond ``inventory``),
        ``volume_hotplug``, ``live_migration``. A missing key means ``False``.
        """
        ...

    def inventory(self) -> HostInventory:
        """Totals of the host and the sum of the specs of the instances present on it."""
        ...

    def spawn(self, spec: InstanceSpec) -> InstanceStatus:
        """Create and boot the instance ``spec.instance_id``; return as soon as it is started.

        Does not wait for the guest to be ready (poll ``status().guest_ready``). Idempotent: an
        existing id with an equal spec returns its current status; with a different spec raises
        ``Conflict``. On any failure everything created so far is removed before raising.
        Raises ``TemporaryError`` when the host lacks capacity right now, ``PermanentError`` when
        the spec cannot run here (unusable image, image larger than the disk).
        """
        ...

    def start(self, instance_id: str) -> InstanceStatus:
        """Power on a stopped or crashed instance; a running one is left alone. ``NotFound`` if unknown."""
        ...

    def stop(self, instance_id: str, timeout: float = 60.0) -> InstanceStatus:
        """Ask the guest to power down (ACPI), wait up to ``timeout`` seconds, then force it off.

        Returns a ``STOPPED`` status; stopping a stopped instance succeeds. Disks are kept.
        ``NotFound`` if unknown.
        """
        ...

    def reboot(self, instance_id: str, hard: bool = False) -> InstanceStatus:
        """Restart the guest: ``hard`` resets it at once, soft stops it gracefully then starts it.

        A stopped instance is simply started. ``NotFound`` if unknown.
        """
        ...

    def pause(self, instance_id: str) -> InstanceStatus:
        """Freeze the vCPUs (memory kept); idempotent. ``NotFound`` if unknown."""
        ...

    def unpause(self, instance_id: str) -> InstanceStatus:
        """Resume a paused instance; idempotent. ``NotFound`` if unknown."""
        ...

    def destroy(self, instance_id: str) -> None:
        """Remove the instance and everything the driver made for it (process, disk overlay, seed,
        tap device, serial log, state). Destroying a missing instance succeeds."""
        ...

    def status(self, instance_id: str) -> InstanceStatus:
        """The observed status; an unknown id gives ``MISSING`` (never raises ``NotFound``)."""
        ...

    def list_instances(self) -> Sequence[InstanceStatus]:
        """Every instance that really exists on this host, whoever created it and whenever.

        Used by a restarted agent to re-adopt running VMs. Sorted by ``instance_id``.
        """
        ...

    def get_spec(self, instance_id: str) -> InstanceSpec:
        """The spec the instance was spawned with (as stored on the host). ``NotFound`` if unknown."""
        ...

    def console_log(self, instance_id: str, tail_bytes: int = 65536) -> str:
        """The last ``tail_bytes`` of the serial console, across boots. ``NotFound`` if unknown."""
        ...


def wait_until_ready(
    driver: ComputeDriver,
    instance_id: str,
    timeout: float,
    interval: float = 0.2,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> InstanceStatus:
    """Poll ``status`` until the guest says it is ready; ``TemporaryError`` after ``timeout`` seconds
    or as soon as the instance is no longer running."""
    deadline = monotonic() + timeout
    while True:
        status = driver.status(instance_id)
        if status.guest_ready:
            return status
        if status.power_state is not PowerState.RUNNING:
            raise TemporaryError(
                f"Instance {instance_id} is {status.power_state} while waiting for its guest to be ready; "
                "look at its console log.",
                delay=5.0,
            )
        if monotonic() >= deadline:
            raise TemporaryError(
                f"Guest of instance {instance_id} was not ready after {timeout:.0f} s; "
                "look at its console log.",
                delay=5.0,
            )
        sleep(interval)
