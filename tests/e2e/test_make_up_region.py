"""The README's own path with real VMs: ``make up`` run from a checkout, with the default (relative)
data directory ``.data``, the checkout under a private directory (mode 0700, as ``/root`` is);
a tiny guest created with the CLI answers SSH at the address the API reports. A second region on
the same machine gets its own namespace and subnet; ``make down`` of one leaves no namespace, tap,
dnsmasq or QEMU process of it, and the other keeps running. Ctrl-C on ``make up`` says what keeps
running and how to stop it, without noise (issue 20 item 1, issue 9 items 1-3).

Each checkout is a directory of symbolic links to this one (Makefile, scripts, .venv, pyproject),
so ``make up`` runs exactly as the README says, against the already set-up virtualenv."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hexagone import localregion
from hexagone.compute.drivers import regionnet
from hexagone.compute.drivers.hostnet import pid_alive
from tests.e2e.cli_helpers import Cli, free_port
from tests.integration.conftest_qemu import cached_tiny_image

pytestmark = [pytest.mark.e2e, pytest.mark.qemu]

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_PW = "operator-secret-2026"


@dataclass
class Region:
    checkout: Path
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    cli: Cli

    @property
    def data_dir(self) -> Path:
        return self.checkout / ".data"

    def network(self) -> regionnet.RegionNetwork:
        net = regionnet.recorded(self.data_dir)
        assert net is not None, "the region recorded no network"
        return net


def _checkout(path: Path) -> Path:
    path.mkdir()
    for name in ("Makefile", "scripts", ".venv", "pyproject.toml"):
        (path / name).symlink_to(ROOT / name)
    return path


def _make(checkout: Path, verb: str, **popen: object) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
    env.update({
        "HEXAGONE_ADMIN_PASSWORD": OPERATOR_PW, "HEXAGONE_ARGON2_TIME_COST": "1",
        "HEXAGONE_ARGON2_MEMORY_KIB": "8192", "HEXAGONE_ARGON2_PARALLELISM": "1",
        # the tiny image is built once per machine, not once per checkout (7 s and 28 MB of downloads)
        "HEXAGONE_IMAGE_CACHE": str(cached_tiny_image().parent.parent),
        **popen.pop("env", {}),  # type: ignore[dict-item]
    })  # fmt: skip
    return subprocess.Popen(["make", "--no-print-directory", verb], cwd=checkout, env=env, **popen)  # type: ignore[call-overload]


def _up(checkout: Path) -> Region:
    port = free_port()
    log = checkout.parent / f"{checkout.name}-up.log"
    with log.open("wb") as out:
        proc = _make(checkout, "up", env={"HEXAGONE_PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT,
                     start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"make up exited with {proc.returncode}:\n{log.read_text()}"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                break
        time.sleep(0.3)
    cli = Cli(checkout.parent / f"{checkout.name}-cli" / "config")
    cli.config_dir.mkdir(parents=True)
    cli.login(url, "admin", OPERATOR_PW, "op")
    return Region(checkout, url, proc, log, cli)


def _guest(region: Region, name: str) -> dict[str, object]:
    cli = region.cli
    cli.json("org", "create", "--name", f"C-{name}", profile="op")
    cli.json("project", "create", "--org", f"C-{name}", "--name", "web", profile="op")
    cli.run("keypair", "create", "k1", profile="op")
    created = cli.json("server", "create", name, "--project", "web", "--flavor", "tiny", "--image", "tiny",
                       "--key-name", "k1", "--wait", profile="op")  # fmt: skip
    assert created["state"] == "RUNNING", created
    deadline = time.monotonic() + 180
    while not (shown := cli.json("server", "show", name, profile="op"))["guest_ready"]:
        assert shown["state"] == "RUNNING" and not shown.get("error_reason"), shown
        assert time.monotonic() < deadline, f"guest never ready: {shown}\n{region.log.read_text()}"
        time.sleep(1)
    return shown


def _ssh_address(region: Region, name: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        result = region.cli.run("server", "ssh", name, "--", "ip -4 -o addr show dev eth0", profile="op",
                                expect=None)  # fmt: skip
        if result.code == 0:
            return result.stdout
        assert time.monotonic() < deadline, f"SSH never answered: {result.stderr}"
        time.sleep(1)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and pid_alive(int(proc.name)):
            found.append(f"{proc.name}: {cmdline}")
    return found


def _down(checkout: Path) -> str:
    done = _make(checkout, "down", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = done.communicate(timeout=120)
    assert done.returncode == 0, out.decode()
    return out.decode()


def _assert_gone(region: Region, net: regionnet.RegionNetwork) -> None:
    assert not regionnet.namespace_exists(net.namespace)
    assert not net.runtime_dir.exists()
    assert _processes_mentioning(str(region.checkout)) == []  # QEMU (pid file), agent, control plane
    assert _processes_mentioning(str(net.runtime_dir)) == []  # dnsmasq


def test_make_up_from_a_private_checkout_boots_a_reachable_guest_and_make_down_removes_only_its_region(
    tmp_path: Path,
) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    a_dir, b_dir = _checkout(private / "a"), _checkout(private / "b")
    regions: list[Region] = []
    try:
        a = _up(a_dir)
        regions.append(a)
        b = _up(b_dir)
        regions.append(b)
        net_a, net_b = a.network(), b.network()
        assert net_a.namespace != net_b.namespace and not net_a.network.overlaps(net_b.network)

        # The default data dir of the README, resolved: the guest is at the address the API reports.
        vm_a = _guest(a, "vm-a")
        ip_a = vm_a["addresses"][0]["ip"]  # type: ignore[index]
        assert ipaddress_in(ip_a, net_a)
        assert f"{ip_a}/24" in _ssh_address(a, "vm-a")
        vm_b = _guest(b, "vm-b")
        ip_b = vm_b["addresses"][0]["ip"]  # type: ignore[index]
        assert ipaddress_in(ip_b, net_b)
        assert f"{ip_b}/24" in _ssh_address(b, "vm-b")

        # make down of region a: nothing of it is left, region b is untouched.
        said = _down(a_dir)
        assert "stopped guest" in said and net_a.namespace in said
        a.proc.wait(timeout=30)
        _assert_gone(a, net_a)
        assert regionnet.namespace_exists(net_b.namespace)
        assert _processes_mentioning(f"guest={vm_b['id']}"), "region b's guest was stopped"
        assert f"{ip_b}/24" in _ssh_address(b, "vm-b")

        # Ctrl-C on make up (SIGINT to its foreground process group): it says what keeps running.
        os.killpg(b.proc.pid, signal.SIGINT)
        b.proc.wait(timeout=60)
        log = b.log.read_text()
        assert "Still running" in log and "make down" in log and str(vm_b["id"]) in log, log
        assert "exited with status" not in log and "Cancel" not in log and "Traceback" not in log, log
        assert _processes_mentioning(f"guest={vm_b['id']}"), "guests outlive the control plane"
        _down(b_dir)
        _assert_gone(b, net_b)
    finally:
        for region in regions:
            try:
                _down(region.checkout)
            except Exception:  # never leave guests behind, whatever failed
                localregion.down(region.data_dir)
            if region.proc.poll() is None:
                os.killpg(region.proc.pid, signal.SIGKILL)


def ipaddress_in(ip: object, net: regionnet.RegionNetwork) -> bool:
    return ipaddress.ip_address(str(ip)) in net.network

