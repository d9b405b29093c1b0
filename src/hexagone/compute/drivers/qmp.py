"""A small synchronous QMP client over a unix socket (standard library only).

One short connection per use: QEMU's QMP server serves one client at a time, so holding a
connection would block every other caller. Events received while waiting for a reply are kept
in ``events``.

The socket is reached through ``/proc/self/fd/<dir fd>/<name>``, which keeps the path short
whatever the state directory (``sun_path`` holds only 108 bytes).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from hexagone.errors import TemporaryError


class QmpError(TemporaryError):
    """QEMU answered a command with an error, or the monitor could not be reached."""


class QmpClient:
    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._sock: socket.socket | None = None
        self._buf = b""

    def __enter__(self) -> QmpClient:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def connect(self) -> None:
        dir_fd = os.open(self.path.parent, os.O_PATH | os.O_DIRECTORY)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(f"/proc/self/fd/{dir_fd}/{self.path.name}")
        except OSError as exc:
            sock.close()
            raise QmpError(f"Cannot reach the QEMU monitor at {self.path}: {exc}.", delay=2.0) from exc
        finally:
            os.close(dir_fd)
        self._sock = sock
        try:
            greeting = self._read()
            if "QMP" not in greeting:
                raise QmpError(f"Unexpected QMP greeting from {self.path}.", delay=2.0)
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        if self._sock is None:
            raise QmpError("The QMP client is not connected.", delay=1.0)
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise QmpError(f"QEMU monitor closed while sending {command}: {exc}.", delay=2.0) from exc
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise QmpError(f"QEMU refused {command}: {err.get('class')}: {err.get('desc')}.", delay=2.0)
            return reply.get("return")

    def _read(self) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                raise QmpError(f"No answer from the QEMU monitor at {self.path}: {exc}.", delay=2.0) from exc
            if not chunk:
                raise QmpError(f"The QEMU monitor at {self.path} closed the connection.", delay=2.0)
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        data: dict[str, Any] = json.loads(line)
        return data


def qmp(path: Path, command: str, arguments: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """Run one command on the monitor at ``path`` and return its result."""
    with QmpClient(path, timeout=timeout) as client:
        return client.execute(command, arguments)
