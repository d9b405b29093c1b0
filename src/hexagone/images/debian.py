"""The Debian 12 cloud image: debootstrap + cloud-init + openssh-server, booted directly.

Pipeline (see ``/work/shared/reference/qemu-on-this-machine.md``, section 2.2): ``debootstrap
--variant=minbase`` with an include list, generalise (no SSH host keys, empty machine-id, NoCloud
datasource), ``mkfs.ext4 -d`` into a raw file (no loop device, no mount), ``qemu-img convert``
to qcow2. The kernel and initramfs are taken from the root tree for direct kernel boot.

Slow: about 100 s to build and 60-75 s to boot to SSH under TCG. Cached like the tiny image.
The default login is cloud-init's default user, ``debian``, with the instance's SSH keys.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hexagone.errors import PermanentError
from hexagone.images import debs
from hexagone.images.manifest import ImageManifest, cached, recipe_hash, write_manifest

log = logging.getLogger("hexagone.images")

RECIPE_VERSION = "debian12-1"
SUITE = "bookworm"
INCLUDE = [
    "systemd-sysv", "udev", "dbus", "openssh-server", "cloud-init", "python3-cffi-backend",
    "linux-image-cloud-amd64", "sudo", "ifupdown", "isc-dhcp-client", "iproute2", "netbase",
    "cloud-guest-utils", "less",
]
DISK_SIZE = "2G"
CMDLINE = "root=/dev/vda rw console=ttyS0"
CLOUD_CFG = "datasource_list: [ NoCloud, None ]\nlocale: C.UTF-8\n"
FSTAB = "/dev/vda / ext4 defaults,discard,errors=remount-ro 0 1\n"
MASKED_UNITS = ["e2scrub_reap.service"]


def recipe() -> str:
    return recipe_hash(RECIPE_VERSION, SUITE, " ".join(INCLUDE), DISK_SIZE, CMDLINE, CLOUD_CFG, FSTAB,
                       " ".join(MASKED_UNITS))


def host_mirror() -> str:
    """The Debian mirror the host itself uses (so the build needs no other network access)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if parts[:1] == ["deb"] and "security" not in line:
                return next(p for p in parts[1:] if p.startswith("http"))
    return "http://deb.debian.org/debian"


def build_debian12(out_dir: Path, mirror: str | None = None) -> ImageManifest:
    """Build the Debian 12 image into ``out_dir`` unless a build of the same recipe is there."""
    out_dir = Path(out_dir)
    want = recipe()
    existing = cached(out_dir, want)
    if existing is not None:
        return existing
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as tmp:
        work = Path(tmp)
        manifest = _build(work, want, mirror or host_mirror())
        for name in ("disk.qcow2", "vmlinux", "initrd.img"):
            os.replace(work / name, out_dir / name)
        write_manifest(out_dir, manifest)
    log.info("built Debian 12 image %s in %s", want, out_dir)
    return manifest


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PermanentError(
            f"{argv[0]} failed while building the Debian image: {result.stderr.strip()[-600:]}"
        )


def _build(work: Path, want: str, mirror: str) -> ImageManifest:
    root = work / "rootfs"
    log.info("debootstrap %s from %s (about 100 s)", SUITE, mirror)
    _run(["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE, str(root), mirror])
    _run(["chroot", str(root), "apt-get", "clean"])
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    (root / "etc/fstab").write_text(FSTAB)
    (root / "etc/cloud/cloud.cfg.d/99_hexagone.cfg").write_text(CLOUD_CFG)
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")

    (vmlinuz,) = sorted((root / "boot").glob("vmlinuz-*"))[-1:]
    kver = vmlinuz.name.removeprefix("vmlinuz-")
    lz4 = shutil.which("lz4")
    if lz4 is None:
        found = debs.download(["lz4"], work / "debs")
        lz4 = str(debs.extract(found["lz4"], work / "x/lz4") / "usr/bin/lz4")
    if not debs.vmlinux_from_bzimage(vmlinuz, work / "vmlinux", Path(lz4)):
        shutil.copyfile(vmlinuz, work / "vmlinux")
    shutil.copyfile(root / "boot" / f"initrd.img-{kver}", work / "initrd.img")

    raw = work / "disk.raw"
    _run(["mkfs.ext4", "-q", "-F", "-L", "rootfs", "-d", str(root), str(raw), DISK_SIZE])
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(work / "disk.qcow2")])
    return ImageManifest(
        name="debian-12", disk="disk.qcow2", format="qcow2", recipe=want, kernel="vmlinux",
        initrd="initrd.img", cmdline=CMDLINE, default_user="debian",
        details={"kernel_version": kver, "suite": SUITE, "mirror": mirror},
    )
