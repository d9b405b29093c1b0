"""Helpers for tests that boot real VMs with the QEMU driver (imported explicitly, not a conftest).

Each helper skips the calling test when the machine cannot run QEMU (not root, tools missing).
The tiny image is built on first use into the image cache (``$HEXAGONE_IMAGE_CACHE`` or
``.data/images``) and reused afterwards.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hexagone.compute.drivers.hostnet import HostNetworkConfig
from hexagone.compute.drivers.qemu import QemuDriver, QemuDriverConfig, host_problem
from hexagone.images.tiny import tiny_image


def require_qemu_host() -> None:
    problem = host_problem()
    if problem:
        pytest.skip(f"QEMU driver unavailable: {problem}")


def cached_tiny_image() -> Path:
    require_qemu_host()
    return tiny_image()


def make_ssh_key(directory: Path) -> tuple[Path, str]:
    """A fresh ed25519 key pair: the private key's path and the public key line."""
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hexagone-test", "-f", str(key)],
                   check=True)
    return key, key.with_suffix(".pub").read_text().strip()


@contextmanager
def qemu_driver(state_dir: Path, subnet: str = "10.202.0.1/24", **options: Any) -> Iterator[QemuDriver]:
    """A QEMU driver with its own network namespace; destroys every instance and the namespace after."""
    require_qemu_host()
    config = QemuDriverConfig(
        state_dir=state_dir,
        network=HostNetworkConfig(namespace=f"hxt-{secrets.token_hex(3)}", address=subnet),
        **options,
    )
    driver = QemuDriver(config)
    try:
        yield driver
    finally:
        for status in driver.list_instances():
            driver.destroy(status.instance_id)
        assert driver.network is not None
        driver.network.teardown()
