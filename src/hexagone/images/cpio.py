"""A deterministic ``newc`` cpio writer for initramfs archives (every entry owned by root)."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path


def _header(name: bytes, ino: int, mode: int, nlink: int, mtime: int, size: int) -> bytes:
    fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, len(name) + 1, 0)
    return b"070701" + b"".join(f"{v:08x}".encode() for v in fields)


def _pad(n: int) -> bytes:
    return b"\x00" * ((4 - n % 4) % 4)


def write_initramfs(tree: Path, out: Path, mtime: int = 0) -> None:
    """Archive ``tree`` (files, directories, symlinks) into a gzip-compressed newc cpio ``out``."""
    chunks: list[bytes] = []
    ino = 1
    paths = sorted(p for p in tree.rglob("*"))
    for path in paths:
        rel = path.relative_to(tree).as_posix().encode()
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            body = os.readlink(path).encode()
            mode = stat.S_IFLNK | 0o777
        elif stat.S_ISDIR(st.st_mode):
            body = b""
            mode = stat.S_IFDIR | stat.S_IMODE(st.st_mode)
        elif stat.S_ISREG(st.st_mode):
            body = path.read_bytes()
            mode = stat.S_IFREG | stat.S_IMODE(st.st_mode)
        else:
            continue
        nlink = 2 if stat.S_ISDIR(st.st_mode) else 1
        head = _header(rel, ino, mode, nlink, mtime, len(body)) + rel + b"\x00"
        chunks += [head, _pad(len(head)), body, _pad(len(body))]
        ino += 1
    trailer = _header(b"TRAILER!!!", 0, 0, 1, 0, 0) + b"TRAILER!!!\x00"
    chunks += [trailer, _pad(len(trailer))]
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=mtime) as f:
        f.write(b"".join(chunks))
