"""Running a command in a guest over SSH, from the host, through the host network's namespace.

Used by the tests and by the agent side of ``hexagone server ssh``. Host keys: without a
``known_hosts`` file the guest's key is not checked (guests are only reachable from inside the
host's own namespace); with one, new keys are recorded and changed keys refused.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from hexagone.compute.drivers.hostnet import HostNetwork
from hexagone.errors import TemporaryError


def ssh_argv(
    network: HostNetwork | None,
    ip: str,
    command: str,
    key_path: Path,
    user: str = "root",
    known_hosts: Path | None = None,
    connect_timeout: int = 5,
) -> list[str]:
    checking = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    if known_hosts is not None:
        checking = ["-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={known_hosts}"]
    argv = [
        "ssh", "-i", str(key_path), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", f"ConnectTimeout={connect_timeout}", "-o", "LogLevel=ERROR", *checking,
        f"{user}@{ip}", "--", command,
    ]
    return network.exec_argv(argv) if network is not None else argv


def run_in_guest(
    network: HostNetwork | None,
    ip: str,
    command: str,
    key_path: Path,
    user: str = "root",
    timeout: float = 60.0,
    known_hosts: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a shell string) in the guest; the result carries its exit code and output."""
    argv = ssh_argv(network, ip, command, key_path, user, known_hosts)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TemporaryError(f"SSH to {ip} did not finish within {timeout:.0f} s.", delay=5.0) from exc


def wait_for_ssh(
    network: HostNetwork | None,
    ip: str,
    key_path: Path,
    user: str = "root",
    timeout: float = 60.0,
) -> float:
    """Retry ``true`` over SSH until it succeeds; returns the seconds it took."""
    start = time.monotonic()
    last = ""
    while time.monotonic() - start < timeout:
        result = run_in_guest(network, ip, "true", key_path, user, timeout=15.0)
        if result.returncode == 0:
            return time.monotonic() - start
        last = result.stderr.strip()
        time.sleep(0.5)
    raise TemporaryError(f"SSH to {user}@{ip} did not answer within {timeout:.0f} s: {last}", delay=5.0)
