"""The tiny CirrOS-like test image, built from Debian packages only.

Ingredients (all fetched with ``apt-get download`` from the host's own archive): the Debian cloud
kernel (whatever ``linux-image-cloud-amd64`` points at today), ``busybox-static``, ``dropbear-bin``
and the few libraries dropbear links against. Output, in ``out_dir``::

    disk.qcow2   64 MiB ext4 root: busybox, dropbear, boot scripts (``tiny_guest``)
    vmlinux      the uncompressed kernel (PVH direct boot, 2.5x faster than bzImage under TCG)
    initrd.img   busybox + virtio/isofs/ACPI modules; mounts /dev/vda and switches root
    image.json   the manifest (``hexagone.images.manifest``)

It boots to SSH in a few seconds under TCG. Builds are cached: nothing is done when ``out_dir``
already holds a build of the same recipe.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hexagone.images import debs, tiny_guest
from hexagone.images.cpio import write_initramfs
from hexagone.images.manifest import ImageManifest, cached, image_cache_dir, recipe_hash, write_manifest

log = logging.getLogger("hexagone.images")

RECIPE_VERSION = "tiny-3"
KERNEL_META = "linux-image-cloud-amd64"
TOOL_PACKAGES = ["lz4"]
USER_PACKAGES = ["busybox-static", "dropbear-bin", "libc6", "libcrypt1", "zlib1g",
                 "libtomcrypt1", "libtommath1", "libgmp10"]
MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "isofs", "button", "evdev"]
DISK_SIZE = "64M"
CMDLINE = "console=ttyS0 quiet panic=-1"


def recipe() -> str:
    files = "".join(f"{name}\0{body}\0{mode}" for name, (body, mode) in sorted(tiny_guest.ROOT_FILES.items()))
    return recipe_hash(RECIPE_VERSION, KERNEL_META, " ".join(USER_PACKAGES), " ".join(MODULES),
                       DISK_SIZE, CMDLINE, tiny_guest.INIT, files)


def build_tiny(out_dir: Path) -> ImageManifest:
    """Build the tiny image into ``out_dir`` unless a build of the same recipe is already there."""
    out_dir = Path(out_dir)
    want = recipe()
    existing = cached(out_dir, want)
    if existing is not None:
        return existing
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as tmp:
        work = Path(tmp)
        manifest = _build(work, want)
        for name in ("disk.qcow2", "vmlinux", "initrd.img"):
            os.replace(work / name, out_dir / name)
        write_manifest(out_dir, manifest)
    log.info("built tiny image %s in %s", want, out_dir)
    return manifest


def tiny_image(cache_dir: Path | None = None) -> Path:
    """The tiny image's disk in the image cache, built first if absent or stale."""
    out = (cache_dir or image_cache_dir()) / "tiny"
    manifest = build_tiny(out)
    return manifest.disk_path(out).resolve()


def _build(work: Path, want: str) -> ImageManifest:
    kernel_pkg = debs.resolve_dependency(KERNEL_META, "linux-image-")
    found = debs.download([kernel_pkg, *USER_PACKAGES, *TOOL_PACKAGES], work / "debs")
    x = {name: debs.extract(deb, work / "x" / name) for name, deb in found.items()}

    kernel_root = x[kernel_pkg]
    (vmlinuz,) = (kernel_root / "boot").glob("vmlinuz-*")
    kver = vmlinuz.name.removeprefix("vmlinuz-")
    kernel_name = "vmlinux"
    if not debs.vmlinux_from_bzimage(vmlinuz, work / "vmlinux", x["lz4"] / "usr/bin/lz4"):
        log.warning("could not extract an ELF kernel from %s; booting the bzImage (slower)", vmlinuz.name)
        shutil.copyfile(vmlinuz, work / "vmlinux")

    busybox = x["busybox-static"] / "bin/busybox"
    listing = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True)
    applets = listing.stdout.split()

    initramfs = work / "initramfs"
    _busybox_tree(initramfs, busybox, applets)
    for d in ("proc", "sys", "dev", "newroot", "lib/modules"):
        (initramfs / d).mkdir(parents=True, exist_ok=True)
    index = debs.module_index(kernel_root / "lib/modules" / kver)
    order = debs.module_load_order(MODULES, index)
    for name in order:
        shutil.copyfile(index[name], initramfs / "lib/modules" / f"{name}.ko")
    (initramfs / "lib/modules/load.order").write_text("".join(f"{m}\n" for m in order))
    _write(initramfs / "init", tiny_guest.INIT, 0o755)
    write_initramfs(initramfs, work / "initrd.img")

    root = work / "rootfs"
    _busybox_tree(root, busybox, applets)
    for d in ("proc", "sys", "dev", "run", "tmp", "mnt", "root", "var/log", "etc/dropbear", "usr/sbin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "var/run").symlink_to("../run")
    (root / "sbin/init").symlink_to("../bin/busybox")
    (root / "root").chmod(0o700)
    (root / "tmp").chmod(0o1777)
    for rel, (body, mode) in tiny_guest.ROOT_FILES.items():
        _write(root / rel, body, mode)
    libraries = [x[p] for p in USER_PACKAGES]
    debs.copy_with_libraries(x["dropbear-bin"] / "usr/sbin/dropbear", root, "usr/sbin/dropbear", libraries)

    raw = work / "disk.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "hxroot", "-d", str(root), str(raw), DISK_SIZE],
                   check=True, capture_output=True)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(work / "disk.qcow2")],
                   check=True, capture_output=True)
    return ImageManifest(
        name="hexagone-tiny",
        disk="disk.qcow2",
        format="qcow2",
        recipe=want,
        kernel=kernel_name,
        initrd="initrd.img",
        cmdline=CMDLINE,
        default_user="root",
        details={
            "kernel_package": kernel_pkg,
            "kernel_version": kver,
            "dropbear": debs.package_version(found["dropbear-bin"]),
            "busybox": debs.package_version(found["busybox-static"]),
        },
    )


def _busybox_tree(root: Path, busybox: Path, applets: list[str]) -> None:
    for d in ("bin", "sbin", "usr/bin", "usr/sbin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, root / "bin/busybox")
    for applet in applets:
        if applet != "busybox" and "/" not in applet:
            (root / "bin" / applet).symlink_to("busybox")


def _write(path: Path, body: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(mode)
