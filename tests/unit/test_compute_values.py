"""Pure parts of the compute seam: spec validation, the seed, the QEMU command line, names."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hexagone.compute.driver import READY_MARKER, InstanceSpec
from hexagone.compute.drivers.qemu_cmd import LaunchPlan, qemu_argv
from hexagone.compute.drivers.qemu_files import default_mac, tap_name
from hexagone.compute.drivers.seed import seed_files
from hexagone.errors import InvalidInput

pytestmark = pytest.mark.unit

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUnitTestKey user@host"
SPEC = InstanceSpec(instance_id="i-1", name="web one", vcpus=2, ram_mb=512, disk_gb=4,
                    image_path="/img/disk.qcow2", ssh_authorized_keys=(KEY,), mac="52:54:00:00:00:01")


@pytest.mark.parametrize("changes", [
    {"instance_id": "../etc"}, {"instance_id": ""}, {"vcpus": 0}, {"image_format": "vmdk"},
    {"hostname": "-bad-"}, {"mac": "52:54:00:00:00"}, {"ssh_authorized_keys": ('ssh-rsa AAA" x',)},
    {"ip": "10.0.0.1\ndhcp-range=evil"}, {"gateway": "not-an-ip"},
])
def test_invalid_specs_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        replace(SPEC, **changes)


def test_spec_round_trips_through_a_dict_and_derives_a_hostname_from_its_name() -> None:
    assert InstanceSpec.from_dict(SPEC.to_dict()) == SPEC
    assert SPEC.guest_hostname == "web-one"


def test_seed_carries_hostname_keys_and_the_ready_marker() -> None:
    files = seed_files(SPEC)
    assert 'local-hostname: "web-one"' in files["meta-data"]
    assert f'  - "{KEY}"' in files["meta-data"]
    assert files["user-data"].startswith("#cloud-config") and READY_MARKER in files["user-data"]
    assert "52:54:00:00:00:01" in files["network-config"]


def test_user_data_of_the_spec_is_kept_next_to_ours_in_a_multipart() -> None:
    files = seed_files(replace(SPEC, user_data="#!/bin/sh\necho hi\n"))
    assert files["user-data"].startswith("Content-Type: multipart/mixed")
    assert "echo hi" in files["user-data"] and READY_MARKER in files["user-data"]


def test_qemu_command_line_boots_the_kernel_on_q35_with_tap_and_monitor() -> None:
    plan = LaunchPlan(instance_id="i-1", vcpus=2, ram_mb=512, accel="tcg", disk=Path("/s/disk.qcow2"),
                      seed=Path("/s/seed.iso"), serial_socket="serial.sock", pidfile=Path("/s/pid"),
                      qmp_socket="qmp.sock", kernel=Path("/img/vmlinux"), initrd=Path("/img/initrd.img"),
                      cmdline="console=ttyS0", tap="hxtabc", mac="52:54:00:00:00:01")
    argv = qemu_argv(plan)
    line = " ".join(argv)
    assert argv[argv.index("-accel") + 1] == "tcg" and argv[argv.index("-machine") + 1] == "q35"
    assert "-daemonize" in argv and "unix:qmp.sock,server=on,wait=off" in argv
    # the console goes to a socket the driver reads into a bounded log, never to an unbounded file
    assert "socket,id=serial0,path=serial.sock,server=on,wait=off" in argv and "file," not in line
    assert "-kernel /img/vmlinux -initrd /img/initrd.img -append console=ttyS0" in line
    assert "tap,id=net0,ifname=hxtabc,script=no,downscript=no" in line
    assert "bootindex" not in line
    kvm = qemu_argv(replace(plan, accel="kvm", kernel=None))
    assert "host" in kvm and "virtio-blk-pci,drive=root,bootindex=0" in kvm


def test_tap_names_fit_linux_interface_names_and_macs_are_local() -> None:
    assert len(tap_name("x" * 64)) <= 15
    assert tap_name("a") != tap_name("b")
    assert default_mac("a").startswith("52:54:00:") and len(default_mac("a")) == 17


def test_sha512_crypt_matches_the_specification_vectors() -> None:
    """Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512", test vectors of SHA-512."""
    from hexagone.compute.guest_password import generate, is_sha512_crypt, sha512_crypt

    assert sha512_crypt("Hello world!", "saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
    )
    assert sha512_crypt("Hello world!", "saltstringsaltstring", rounds=10000) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/"
        "YTBmSK6H9qs/y3RnOaw5v."
    )
    first, second = generate(), generate()
    assert first != second and len(first) == 20
    assert is_sha512_crypt(sha512_crypt(first)) and not is_sha512_crypt(first)
