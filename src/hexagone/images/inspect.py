"""Inspecting a disk image before trusting it (uploads, and every base image a VM boots from).

An image file is data from a customer, and QEMU image formats can point at other files: a "raw"
upload that is really a qcow2 whose backing file is ``/etc/shadow`` would hand that file to the
guest. ``inspect_image`` refuses, with ``InvalidInput``:

* a real format (probed by ``qemu-img``) different from the declared one;
* any backing file, any external data file, any encrypted image;
* a format other than ``raw`` or ``qcow2``;
* a virtual size above the limit.

``qemu-img`` runs under CPU-time and address-space limits, since a crafted header can make it
spin or allocate (the same precaution OpenStack takes, OSSA-2015-014).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexagone.errors import InvalidInput

ALLOWED_FORMATS = ("raw", "qcow2")
DEFAULT_MAX_VIRTUAL_SIZE = 2 * 1024**4
_LIMITS = ["prlimit", "--cpu=30", f"--as={1024**3}"]


@dataclass(frozen=True)
class ImageInfo:
    path: str
    format: str
    virtual_size: int
    actual_size: int
    cluster_size: int | None = None


def _qemu_img_info(path: Path) -> dict[str, Any]:
    argv = [*_LIMITS, "qemu-img", "info", "--output=json", str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        raise InvalidInput(
            f"The image {path.name} cannot be read as a disk image: {result.stderr.strip()[-300:]}"
        )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def inspect_image(
    path: Path | str,
    declared_format: str | None = None,
    max_virtual_size: int = DEFAULT_MAX_VIRTUAL_SIZE,
) -> ImageInfo:
    """Probe ``path`` and return its facts, or raise ``InvalidInput`` saying why it is refused."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"The image {path} does not exist or is not a regular file.")
    if declared_format is not None and declared_format not in ALLOWED_FORMATS:
        raise InvalidInput(f"Image format {declared_format!r} is not accepted: declare raw or qcow2.")
    info = _qemu_img_info(path)
    real = str(info.get("format", ""))
    name = path.name
    if real not in ALLOWED_FORMATS:
        raise InvalidInput(f"The image {name} is in format {real!r}; only raw and qcow2 are accepted.")
    if declared_format is not None and real != declared_format:
        raise InvalidInput(
            f"The image {name} was declared {declared_format} but is really {real}; "
            "upload it again with its true format."
        )
    backing_keys = ("backing-filename", "full-backing-filename", "backing-filename-format")
    if any(info.get(key) for key in backing_keys):
        raise InvalidInput(
            f"The image {name} refers to a backing file; flatten it first (qemu-img convert -O qcow2)."
        )
    specific = (info.get("format-specific") or {}).get("data") or {}
    if specific.get("data-file") or specific.get("data-file-raw"):
        raise InvalidInput(
            f"The image {name} stores its data in an external file; convert it to a self-contained image."
        )
    if info.get("encrypted") or specific.get("encrypt"):
        raise InvalidInput(f"The image {name} is encrypted; upload it unencrypted.")
    virtual_size = int(info.get("virtual-size", 0))
    if virtual_size > max_virtual_size:
        raise InvalidInput(
            f"The image {name} has a virtual size of {virtual_size / 1024**3:.1f} GiB, above the limit of "
            f"{max_virtual_size / 1024**3:.1f} GiB; pick a larger flavor or a smaller image."
        )
    return ImageInfo(
        path=str(path),
        format=real,
        virtual_size=virtual_size,
        actual_size=int(info.get("actual-size", 0)),
        cluster_size=info.get("cluster-size"),
    )
