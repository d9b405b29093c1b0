"""The Debian 12 cloud image boots with cloud-init and answers SSH (slow: ~100 s build, ~70 s boot).

Skipped unless ``HEXAGONE_SLOW_TESTS=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hexagone.compute.driver import InstanceSpec, wait_until_ready
from hexagone.compute.drivers.guestssh import wait_for_ssh
from hexagone.images.debian import build_debian12
from hexagone.images.manifest import image_cache_dir
from tests.integration.conftest_qemu import make_ssh_key, qemu_driver, require_qemu_host

pytestmark = [
    pytest.mark.integration,
    pytest.mark.qemu,
    pytest.mark.skipif(os.environ.get("HEXAGONE_SLOW_TESTS") != "1", reason="set HEXAGONE_SLOW_TESTS=1"),
]


def test_debian12_image_boots_with_cloud_init_and_answers_ssh(tmp_path: Path) -> None:
    require_qemu_host()
    out = image_cache_dir() / "debian-12"
    manifest = build_debian12(out)
    key, public_key = make_ssh_key(tmp_path)
    with qemu_driver(tmp_path / "host", subnet="10.203.0.1/24") as driver:
        spec = InstanceSpec(
            instance_id="debian-1", name="debian one", vcpus=1, ram_mb=1024, disk_gb=4,
            image_path=str(manifest.disk_path(out).resolve()), hostname="hx-debian",
            mac="52:54:00:30:00:0a", ip="10.203.0.10", ssh_authorized_keys=(public_key,),
        )
        driver.spawn(spec)
        wait_until_ready(driver, spec.instance_id, timeout=400)
        wait_for_ssh(driver.network, "10.203.0.10", key, user=manifest.default_user, timeout=60)
        result = driver.ssh(spec.instance_id, "hostname; df -BG --output=size / | tail -1", key,
                            user=manifest.default_user)
        assert result.returncode == 0, result.stderr
        hostname, size = result.stdout.split()
        assert hostname == "hx-debian"
        assert int(size.rstrip("G")) >= 3, "cloud-init grows the root file system to the flavor's disk"
