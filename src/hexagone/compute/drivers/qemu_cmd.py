"""The ``qemu-system-x86_64`` command line of one instance: a pure function of plain values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LaunchPlan:
    """Where an instance's files are and how it boots; everything ``qemu_argv`` needs."""

    instance_id: str
    vcpus: int
    ram_mb: int
    accel: str
    disk: Path
    seed: Path
    serial_socket: str
    pidfile: Path
    qmp_socket: str
    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str = ""
    tap: str | None = None
    mac: str | None = None
    machine: str = "q35"
    hotplug_ports: int = 4


def qemu_argv(plan: LaunchPlan, qemu: str = "qemu-system-x86_64") -> list[str]:
    """A daemonising QEMU: q35, virtio disk + seed, QMP on a unix socket, the serial console on
    another one (read by the driver into a bounded log, ``serial.py``; discarded while unread).

    ``qmp_socket`` and ``serial_socket`` may be relative to the working directory QEMU is started in (unix socket
    paths are limited to 108 bytes).
    """
    argv = [qemu, "-name", f"guest={plan.instance_id}", "-machine", plan.machine]
    if plan.accel == "kvm":
        argv += ["-accel", "kvm", "-cpu", "host"]
    else:
        argv += ["-accel", "tcg"]
    argv += [
        "-m", str(plan.ram_mb), "-smp", str(plan.vcpus),
        "-nodefaults", "-no-user-config", "-display", "none",
        "-daemonize", "-pidfile", str(plan.pidfile),
        "-chardev", f"socket,id=serial0,path={plan.serial_socket},server=on,wait=off",
        "-serial", "chardev:serial0",
        "-qmp", f"unix:{plan.qmp_socket},server=on,wait=off",
        # A guest kernel panic freezes the VM (QMP status guest-panicked, reported CRASHED)
        # instead of rebooting it, so its console shows why.
        "-device", "pvpanic", "-action", "panic=pause",
    ]
    if plan.kernel is not None:
        argv += ["-kernel", str(plan.kernel)]
        if plan.initrd is not None:
            argv += ["-initrd", str(plan.initrd)]
        argv += ["-append", plan.cmdline]
    argv += [
        "-drive", f"id=root,file={plan.disk},if=none,format=qcow2,discard=unmap",
        "-device", "virtio-blk-pci,drive=root" + (",bootindex=0" if plan.kernel is None else ""),
        "-drive", f"id=seed,file={plan.seed},if=none,format=raw,readonly=on",
        "-device", "virtio-blk-pci,drive=seed",
    ]
    if plan.tap is not None:
        argv += [
            "-netdev", f"tap,id=net0,ifname={plan.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net0,mac={plan.mac}",
        ]
    for n in range(1, plan.hotplug_ports + 1):
        argv += ["-device", f"pcie-root-port,id=hp{n},bus=pcie.0,chassis={n},slot={n}"]
    return argv
