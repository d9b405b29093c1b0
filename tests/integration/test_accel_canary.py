"""The KVM canary really detects a guest reaching init (run here under TCG, since KVM cannot)."""

from __future__ import annotations

import pytest

from hexagone.compute.drivers.accel import run_canary
from hexagone.images.manifest import load_manifest
from tests.integration.conftest_qemu import cached_tiny_image

pytestmark = [pytest.mark.integration, pytest.mark.qemu]


def test_the_canary_boot_reaches_init_and_reports_it() -> None:
    image_dir = cached_tiny_image().parent
    manifest = load_manifest(image_dir)
    assert manifest is not None and manifest.kernel and manifest.initrd
    ok, detail = run_canary("qemu-system-x86_64", image_dir / manifest.kernel, image_dir / manifest.initrd,
                            timeout=60.0, accel="tcg")
    assert ok, detail
    assert detail.startswith("uptime=")


def test_a_canary_that_cannot_boot_is_reported_as_failed(tmp_path: object) -> None:
    image_dir = cached_tiny_image().parent
    manifest = load_manifest(image_dir)
    assert manifest is not None and manifest.initrd
    ok, detail = run_canary("qemu-system-x86_64", image_dir / manifest.initrd, image_dir / manifest.initrd,
                            timeout=20.0, accel="tcg")
    assert not ok and detail
