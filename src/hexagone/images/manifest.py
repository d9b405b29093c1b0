"""``image.json``: what sits next to a built image's disk and how to boot it.

An image directory holds the root disk and, for direct kernel boot, a kernel and an initramfs::

    <dir>/disk.qcow2  <dir>/vmlinux  <dir>/initrd.img  <dir>/image.json

The compute driver reads ``image.json`` next to ``InstanceSpec.image_path``; without one it boots
the disk through the firmware. ``recipe`` is the hash of everything the build depends on, so a
builder skips work when an existing output already matches its recipe.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST = "image.json"


@dataclass(frozen=True)
class ImageManifest:
    name: str
    disk: str
    format: str
    recipe: str
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str = ""
    default_user: str = "root"
    details: dict[str, str] = field(default_factory=dict)

    def disk_path(self, image_dir: Path) -> Path:
        return image_dir / self.disk


def image_cache_dir() -> Path:
    """Where built images are cached: ``$HEXAGONE_IMAGE_CACHE``, else ``<data dir>/images``."""
    explicit = os.environ.get("HEXAGONE_IMAGE_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("HEXAGONE_DATA_DIR", ".data")) / "images"


def recipe_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:24]


def load_manifest(image_dir: Path) -> ImageManifest | None:
    path = image_dir / MANIFEST
    if not path.exists():
        return None
    return ImageManifest(**json.loads(path.read_text()))


def write_manifest(image_dir: Path, manifest: ImageManifest) -> None:
    tmp = image_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, image_dir / MANIFEST)


def cached(image_dir: Path, recipe: str) -> ImageManifest | None:
    """The manifest of an existing build of ``recipe`` whose files are all present, else ``None``."""
    manifest = load_manifest(image_dir)
    if manifest is None or manifest.recipe != recipe:
        return None
    for name in (manifest.disk, manifest.kernel, manifest.initrd):
        if name and not (image_dir / name).exists():
            return None
    return manifest
