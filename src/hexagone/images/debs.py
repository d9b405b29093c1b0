"""Getting files out of Debian packages: download, extract, and read what the ELF files need.

Only the distribution's own tools are used (``apt-get download``, ``apt-cache``, ``dpkg-deb``), so
an image is built from the same archive the host installs from, with no other source.
"""

from __future__ import annotations

import logging
import lzma
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

from hexagone.errors import PermanentError

log = logging.getLogger("hexagone.images")

_APT_OPTS = ["-q", "-o", "APT::Sandbox::User=root"]


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def apt_update() -> None:
    result = _run(["apt-get", *_APT_OPTS, "update"])
    if result.returncode != 0:
        raise PermanentError(
            f"apt-get update failed; check the host's package sources: {result.stderr[-400:]}"
        )


def resolve_dependency(metapackage: str, prefix: str) -> str:
    """The concrete package a metapackage currently points at (e.g. the cloud kernel's ABI name)."""
    for attempt in range(2):
        result = _run(["apt-cache", "depends", "--important", metapackage])
        for line in result.stdout.splitlines():
            name = line.strip().removeprefix("Depends:").strip()
            if line.strip().startswith("Depends:") and name.startswith(prefix):
                return name
        if attempt == 0:
            apt_update()
    raise PermanentError(f"apt does not know {metapackage}; check the host's package sources.")


def download(packages: list[str], dest: Path) -> dict[str, Path]:
    """``apt-get download`` the packages into ``dest``; runs ``apt-get update`` once if needed."""
    dest.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        result = _run(["apt-get", *_APT_OPTS, "download", *packages], cwd=dest)
        if result.returncode == 0:
            break
        if attempt == 0:
            log.info("apt-get download failed, refreshing package lists: %s", result.stderr.strip()[-200:])
            apt_update()
    else:
        raise PermanentError(f"Could not download {' '.join(packages)}: {result.stderr.strip()[-400:]}")
    found: dict[str, Path] = {}
    for deb in dest.glob("*.deb"):
        found[deb.name.split("_", 1)[0]] = deb
    missing = [p for p in packages if p not in found]
    if missing:
        raise PermanentError(f"apt-get download did not produce {missing}.")
    return found


def extract(deb: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True, capture_output=True)
    return dest


def package_version(deb: Path) -> str:
    out = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


# -- kernels ------------------------------------------------------------------------------------

def vmlinux_from_bzimage(bzimage: Path, dest: Path, lz4_tool: Path | None = None) -> bool:
    """Write the uncompressed ELF kernel hidden in a bzImage (PVH boot is ~2.5x faster under TCG).

    Handles the xz and gzip payloads with the standard library, and lz4 (Debian's cloud kernel)
    with the ``lz4`` tool from the Debian package of that name.
    """
    data = bzimage.read_bytes()

    def xz(b: bytes) -> bytes:
        return lzma.LZMADecompressor().decompress(b)

    def gz(b: bytes) -> bytes:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b)

    def lz4(b: bytes) -> bytes:
        return _lz4(b, lz4_tool)

    unpackers: list[tuple[bytes, Callable[[bytes], bytes]]] = [
        (b"\xfd7zXZ\x00", xz), (b"\x1f\x8b\x08", gz), (b"\x02\x21\x4c\x18", lz4),
    ]
    for magic, unpack in unpackers:
        start = data.find(magic)
        while start >= 0:
            try:
                elf = unpack(data[start:])
            except (lzma.LZMAError, zlib.error, OSError):
                elf = b""
            if elf.startswith(b"\x7fELF"):
                dest.write_bytes(elf)
                return True
            start = data.find(magic, start + 1)
    return False


def _lz4(payload: bytes, tool: Path | None) -> bytes:
    if tool is None:
        return b""
    result = subprocess.run([str(tool), "-dc"], input=payload, capture_output=True, check=False)
    return result.stdout


def module_index(modules_root: Path) -> dict[str, Path]:
    """Module name (``-`` normalised to ``_``) to its ``.ko`` file."""
    index: dict[str, Path] = {}
    for ko in modules_root.rglob("*.ko*"):
        name = ko.name.split(".ko", 1)[0].replace("-", "_")
        index[name] = ko
    return index


def module_depends(ko: Path) -> list[str]:
    """The ``depends=`` field of a module's ``.modinfo`` section."""
    data = ko.read_bytes()
    if ko.suffix == ".xz":
        data = lzma.decompress(data)
    marker = data.find(b"\x00depends=")
    if marker < 0:
        return []
    end = data.index(b"\x00", marker + 1)
    value = data[marker + len(b"\x00depends=") : end].decode()
    return [d.replace("-", "_") for d in value.split(",") if d]


def module_load_order(wanted: list[str], index: dict[str, Path]) -> list[str]:
    """Dependencies first, each module once; names not in ``index`` are built into the kernel."""
    order: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in order or name not in index:
            return
        if name in stack:
            raise PermanentError(f"Kernel module dependency cycle through {name}.")
        for dep in module_depends(index[name]):
            visit(dep, (*stack, name))
        order.append(name)

    for name in wanted:
        visit(name.replace("-", "_"), ())
    return order


# -- shared libraries ---------------------------------------------------------------------------

def elf_needs(path: Path) -> tuple[str | None, list[str]]:
    """The interpreter (``PT_INTERP``) and ``DT_NEEDED`` libraries of a 64-bit little-endian ELF."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise PermanentError(f"{path} is not a 64-bit ELF file.")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads: list[tuple[int, int, int]] = []
    interp: str | None = None
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 3:
            interp = data[p_offset : p_offset + p_filesz].rstrip(b"\x00").decode()
        elif p_type == 2:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return interp, []

    def to_offset(vaddr: int) -> int:
        for start, offset, size in loads:
            if start <= vaddr < start + size:
                return offset + vaddr - start
        raise PermanentError(f"{path}: address {vaddr:#x} is outside every segment.")

    entries: list[tuple[int, int]] = []
    off, size = dynamic
    for pos in range(off, off + size, 16):
        tag, val = struct.unpack_from("<qQ", data, pos)
        if tag == 0:
            break
        entries.append((tag, val))
    strtab = to_offset(next(v for t, v in entries if t == 5))
    needed = []
    for tag, val in entries:
        if tag == 1:
            end = data.index(b"\x00", strtab + val)
            needed.append(data[strtab + val : end].decode())
    return interp, needed


def copy_with_libraries(binary: Path, dest_root: Path, dest_rel: str, search: list[Path]) -> None:
    """Copy ``binary`` into ``dest_root/dest_rel`` with its loader and libraries, found in ``search``."""
    target = dest_root / dest_rel.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    todo = [binary]
    done: set[str] = set()
    while todo:
        interp, needed = elf_needs(todo.pop())
        if interp and interp not in done:
            done.add(interp)
            src = _find_library(Path(interp).name, search)
            dst = dest_root / interp.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            dst.chmod(0o755)
        for lib in needed:
            if lib in done:
                continue
            done.add(lib)
            src = _find_library(lib, search)
            dst = dest_root / "lib/x86_64-linux-gnu" / lib
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            todo.append(dst)


def _find_library(name: str, search: list[Path]) -> Path:
    for root in search:
        for sub in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib"):
            candidate = root / sub / name
            if candidate.exists():
                return candidate.resolve()
    raise PermanentError(f"Library {name} was not found in the extracted packages.")
