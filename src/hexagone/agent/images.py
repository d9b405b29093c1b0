"""The agent's image cache: one directory per image, laid out as the drivers expect
(``disk.<format>`` plus, for direct kernel boot, ``vmlinux``/``initrd.img`` and ``image.json``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from hexagone.agent.client import AgentClient
from hexagone.images.manifest import ImageManifest, load_manifest, write_manifest


class ImageCache:
    def __init__(self, root: Path, client: AgentClient) -> None:
        self.root = root
        self.client = client
        self._lock = threading.Lock()

    def ensure(self, image: dict[str, Any]) -> Path:
        """The local disk path of ``image``, downloading it (checksum-verified) the first time."""
        with self._lock:
            d: Path = self.root / str(image["id"])
            fmt = str(image.get("disk_format") or "qcow2")
            disk: Path = d / f"disk.{fmt}"
            if disk.exists() and (not image.get("boot") or load_manifest(d) is not None):
                return disk
            base = image["url"]
            self.client.download(f"{base}/disk", disk, image.get("checksum_sha256"))
            boot = image.get("boot") or {}
            if boot.get("kernel"):
                self.client.download(f"{base}/kernel", d / "vmlinux")
                initrd = None
                if boot.get("initrd"):
                    self.client.download(f"{base}/initrd", d / "initrd.img")
                    initrd = "initrd.img"
                write_manifest(d, ImageManifest(
                    name=image["id"], disk=disk.name, format=fmt, recipe=image.get("checksum_sha256") or "",
                    kernel="vmlinux", initrd=initrd, cmdline=str(boot.get("cmdline") or ""),
                ))
            return disk
