"""An instance's serial console, kept to a bounded size on the host's disk.

A guest can print without end; QEMU's ``file`` chardev would grow ``serial.log`` until the disk is
full, and cannot cap itself. So QEMU writes the console to a unix socket
(``-chardev socket,server=on,wait=off``), and a reader thread of the driver (``SerialReader``)
appends what it reads to ``serial.log``; past ``max_bytes`` the file becomes ``serial.log.1``
(replacing the previous one). On disk: at most ``2 × max_bytes`` per instance, whatever the guest
does. While no reader is connected (the agent is down), QEMU discards the output rather than
buffering it. A slow reader slows the guest's UART, never the host.

The reader also watches the stream for the guest's ready marker and records it in a ``ready``
file, which a new boot removes, so readiness is known without reading the log; the agent reads
only the tail (``tail``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from pathlib import Path

log = logging.getLogger("hexagone.compute.serial")
DEFAULT_MAX_BYTES = 1024 * 1024


def connect(path: Path, timeout: float = 2.0) -> socket.socket:
    """A connection to the unix socket ``path``, however long the path is (``sun_path`` holds
    only 108 bytes: the socket is reached through ``/proc/self/fd/<dir fd>/<name>``)."""
    dir_fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(f"/proc/self/fd/{dir_fd}/{path.name}")
    except OSError:
        sock.close()
        raise
    finally:
        os.close(dir_fd)
    sock.settimeout(None)
    return sock


class SerialReader:
    """Copies one console stream into ``log_path`` (bounded, rotated) until the stream ends."""

    def __init__(self, sock: socket.socket, log_path: Path, ready_path: Path, marker: bytes,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.sock = sock
        self.log_path = log_path
        self.old_path = log_path.with_name(log_path.name + ".1")
        self.ready_path = ready_path
        self.marker = marker
        self.max_bytes = max_bytes
        self._carry = b""  # the end of the previous chunk, so a marker cut in two is still seen
        self.thread = threading.Thread(target=self._run, name=f"serial-{log_path.parent.name}", daemon=True)

    def start(self) -> SerialReader:
        self.thread.start()
        return self

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)

    def _run(self) -> None:
        try:
            with self.sock:
                while chunk := self.sock.recv(65536):
                    self.write(chunk)
        except OSError as exc:  # the instance directory went away, the socket was shut down
            log.debug("serial reader of %s ended: %s", self.log_path.parent.name, exc)

    def write(self, chunk: bytes) -> None:
        seen = self._carry + chunk
        if self.marker in seen:
            self.ready_path.touch()
        self._carry = seen[-(len(self.marker) - 1):] if len(self.marker) > 1 else b""
        while chunk:  # never more than max_bytes in either file
            with open(self.log_path, "ab") as f:
                room = max(0, self.max_bytes - f.tell())
                f.write(chunk[:room])
                full = len(chunk) >= room
            chunk = chunk[room:]
            if full:
                os.replace(self.log_path, self.old_path)


def tail(log_path: Path, tail_bytes: int) -> str:
    """The last ``tail_bytes`` of the console (the rotated file, then the current one)."""
    old = log_path.with_name(log_path.name + ".1")
    parts: list[bytes] = []
    want = tail_bytes
    for path in (log_path, old):
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - want))
                data = f.read(want)
        except FileNotFoundError:
            continue
        parts.insert(0, data)
        want -= len(data)
        if want <= 0:
            break
    return b"".join(parts).decode(errors="replace")
