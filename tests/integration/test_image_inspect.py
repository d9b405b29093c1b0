"""Hostile images are refused before any VM touches them (real ``qemu-img``, crafted files)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hexagone.errors import InvalidInput
from hexagone.images.inspect import inspect_image

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed"),
]


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def test_a_clean_qcow2_and_a_clean_raw_are_accepted(tmp_path: Path) -> None:
    qemu_img("create", "-f", "qcow2", str(tmp_path / "ok.qcow2"), "64M")
    (tmp_path / "ok.raw").write_bytes(b"\0" * 1024 * 1024)
    info = inspect_image(tmp_path / "ok.qcow2", "qcow2", max_virtual_size=1024**3)
    assert (info.format, info.virtual_size) == ("qcow2", 64 * 1024**2)
    assert inspect_image(tmp_path / "ok.raw", "raw").format == "raw"


def test_a_raw_upload_that_is_really_a_qcow2_pointing_at_etc_shadow_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.img"
    qemu_img("create", "-f", "qcow2", "-b", "/etc/shadow", "-F", "raw", str(evil), "1M")
    with pytest.raises(InvalidInput, match="declared raw but is really qcow2"):
        inspect_image(evil, "raw")
    with pytest.raises(InvalidInput, match="backing file"):
        inspect_image(evil, "qcow2")


def test_a_raw_file_declared_qcow2_is_refused(tmp_path: Path) -> None:
    raw = tmp_path / "plain.raw"
    raw.write_bytes(b"\0" * 65536)
    with pytest.raises(InvalidInput, match="declared qcow2 but is really raw"):
        inspect_image(raw, "qcow2")


def test_a_qcow2_with_an_external_data_file_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "split.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", f"data_file={tmp_path / 'data.raw'}", str(image), "1M")
    with pytest.raises(InvalidInput, match="external file"):
        inspect_image(image, "qcow2")


def test_an_image_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "huge.qcow2"
    qemu_img("create", "-f", "qcow2", str(image), "10G")
    with pytest.raises(InvalidInput, match="above the limit of 1.0 GiB"):
        inspect_image(image, "qcow2", max_virtual_size=1024**3)


def test_an_unsupported_format_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "disk.vmdk"
    qemu_img("create", "-f", "vmdk", str(image), "1M")
    with pytest.raises(InvalidInput, match="only raw and qcow2"):
        inspect_image(image)
