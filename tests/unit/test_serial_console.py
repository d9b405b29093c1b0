"""A guest cannot fill the host's disk through its serial console: the console is read from a
socket into a bounded, rotated log, the ready marker is noticed on the way, and only the tail is
ever read back (issue 8 item 13)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hexagone.compute.drivers import serial

pytestmark = pytest.mark.unit


def test_a_flooding_guest_keeps_at_most_twice_the_cap_on_disk_and_the_tail_stays_readable(tmp_path: Path):
    ours, qemu = socket.socketpair()
    log, ready = tmp_path / "serial.log", tmp_path / "ready"
    reader = serial.SerialReader(ours, log, ready, b"HEXAGONE-GUEST-READY", max_bytes=64 * 1024).start()
    with qemu:
        qemu.sendall(b"booting... HEXAGONE-GUEST")  # the marker arrives cut in two
        qemu.sendall(b"-READY hostname=x\n")
        for n in range(2000):  # 2000 lines of 1 KiB: 2 MB, 32 times the cap
            qemu.sendall(b"%06d " % n + b"x" * 1017 + b"\n")
        qemu.sendall(b"the end\n")
    reader.thread.join(10)
    assert not reader.alive()  # the stream ended (QEMU exited)
    assert ready.exists()
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("serial.log*"))
    assert on_disk <= 2 * 64 * 1024, on_disk
    tail = serial.tail(log, 4096)
    assert tail.endswith("the end\n") and "001999 " in tail and len(tail) == 4096
    assert serial.tail(log, 100 * 1024).count("\n") > 64  # across the rotated part too


def test_tail_of_a_missing_log_is_empty(tmp_path: Path):
    assert serial.tail(tmp_path / "serial.log", 100) == ""
