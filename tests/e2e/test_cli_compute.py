"""Issue 3, item 9: the compute commands of the ``hexagone`` CLI (subprocesses) against a real
``hexagone up`` whose local compute agent runs the fake driver (no QEMU)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli_helpers import ENTRY_POINT, Cli, Server, free_port, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

OPERATOR_PW = "operator-secret-2026"
PW = "a-long-enough-passphrase"
GENERIC, FORBIDDEN, NOT_FOUND = 1, 4, 5
LOCAL_AGENT_WAIT = 10.0


def start_compute_server(tmp: Path) -> Server:
    """``hexagone up`` with its local agent on the fake driver; cheap argon2 as in the other e2e test."""
    port = free_port()
    data_dir, log = tmp / "data", tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
    env.update(
        {
            "HEXAGONE_DATA_DIR": str(data_dir),
            "HEXAGONE_ADMIN_PASSWORD": OPERATOR_PW,
            "HEXAGONE_ARGON2_TIME_COST": "1",
            "HEXAGONE_ARGON2_MEMORY_KIB": "8192",
            "HEXAGONE_ARGON2_PARALLELISM": "1",
            "HEXAGONE_LOCAL_AGENT": "true",
            "HEXAGONE_LOCAL_AGENT_DRIVER": "fake",
        }
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*ENTRY_POINT, "up", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown ends the agent it started too
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hexagone up exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return Server(url, data_dir, proc, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"hexagone up did not answer within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_compute_server(tmp_path_factory.mktemp("hexagone-compute"))
    try:
        yield srv
    finally:
        stop_server(srv.process)


@pytest.fixture(scope="module")
def cli(server: Server) -> Iterator[Cli]:
    c = Cli(server.data_dir.parent / "cli-config")
    c.login(server.url, "admin", OPERATOR_PW, "op", entry=ENTRY_POINT)
    yield c
    tokens = [json.loads(p.read_text())["token"] for p in (c.config_dir / "tokens").glob("*.json")]
    for out in c.outputs:
        assert not any(t in out for t in tokens), "a token was printed"
        assert PW not in out and OPERATOR_PW not in out, "a password was printed"


@pytest.fixture(scope="module")
def host(cli: Cli, server: Server) -> Iterator[str]:
    """The name of a compute host that is up: the local agent of ``hexagone up``.

    If it has not joined within LOCAL_AGENT_WAIT seconds, an agent is joined here with a token from
    ``hexagone host join-token`` so the compute commands are still exercised, and
    ``test_hexagone_up_starts_its_local_agent`` reports the failure of ``hexagone up`` itself."""
    deadline = time.monotonic() + LOCAL_AGENT_WAIT
    while time.monotonic() < deadline:
        hosts = [h for h in cli.json("host", "list", profile="op")["items"] if h["status"] == "up"]
        if hosts:
            yield hosts[0]["name"]
            return
        time.sleep(0.5)
    region = cli.json("region", "list", profile="op")["items"][0]["name"]
    token = cli.json("host", "join-token", "--region", region, profile="op")["join_token"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
    agent = subprocess.Popen(
        [sys.executable, "-m", "hexagone.main", "agent", "--url", server.url, "--driver", "fake",
         "--state-dir", str(server.data_dir.parent / "e2e-agent"), "--name", "e2e-agent"],
        env={**env, "HEXAGONE_JOIN_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not any(h["name"] == "e2e-agent" for h in cli.json("host", "list", profile="op")["items"]):
            assert time.monotonic() < deadline, "the fallback agent did not join either"
            time.sleep(0.3)
        yield "e2e-agent"
    finally:
        agent.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            agent.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(agent.pid, signal.SIGKILL)
        agent.wait(timeout=5)


def test_hexagone_up_starts_its_local_agent(cli: Cli, host: str) -> None:
    """With HEXAGONE_LOCAL_AGENT=true, `hexagone up` runs an agent for this machine that stays up."""
    names = {h["name"] for h in cli.json("host", "list", profile="op")["items"] if h["status"] == "up"}
    assert socket.gethostname() in names, f"the local agent of `hexagone up` is not up (up: {sorted(names)})"


def test_server_lifecycle_through_the_cli(cli: Cli, server: Server, host: str) -> None:
    tmp = server.data_dir.parent
    cli.json("org", "create", "--name", "C1", profile="op")
    cli.json("project", "create", "--org", "C1", "--name", "web", profile="op")

    # A generated keypair: the private key lands in ~/.ssh, mode 0600, and is never printed.
    made = cli.run("keypair", "create", "k1", profile="op")
    key_file = tmp / ".ssh" / "hexagone-k1"  # Cli runs with HOME = the config dir's parent
    private = key_file.read_text()
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in made.stdout + made.stderr and "SHA256:" in made.stdout

    # An image: created queued, then uploaded (streamed), inspected and active; downloads match.
    disk = tmp / "x.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(disk), "64M"], check=True, capture_output=True)
    queued = cli.json("image", "create", "cirros", "--disk-format", "qcow2", profile="op")
    assert queued["status"] == "queued"
    assert cli.json("image", "upload", "cirros", str(disk), profile="op")["status"] == "active"
    cli.run("image", "download", "cirros", str(tmp / "copy.qcow2"), profile="op")
    assert (tmp / "copy.qcow2").read_bytes() == disk.read_bytes()

    table = cli.run("flavor", "list", profile="op").stdout
    assert all(name in table for name in ("tiny", "small", "medium"))

    created = cli.json(
        "server", "create", "vm1", "--project", "web", "--flavor", "tiny", "--image", "cirros",
        "--key-name", "k1", "--meta", "role=web", "--wait", profile="op",
    )  # fmt: skip
    assert created["state"] == "RUNNING" and created["metadata"] == {"role": "web"}
    listed = cli.run("server", "list", "--project", "web", profile="op").stdout
    assert "vm1" in listed and "RUNNING" in listed and created["id"] in listed
    assert created["key_name"] == "k1"
    shown = cli.run("server", "show", "vm1", profile="op").stdout
    assert created["id"] in shown and "RUNNING" in shown

    assert cli.json("server", "stop", "vm1", "--wait", profile="op")["state"] == "STOPPED"
    assert cli.json("server", "start", "vm1", "--wait", profile="op")["state"] == "RUNNING"
    rebooted = cli.run("server", "reboot", "vm1", "--wait", profile="op")
    assert "is RUNNING" in rebooted.stdout and "Waiting for server 'vm1'" in rebooted.stderr

    deadline = time.monotonic() + 15  # the host reports the console every few seconds
    while "fake boot of vm1" not in (console := cli.run("server", "console", "vm1", profile="op").stdout):
        assert time.monotonic() < deadline, f"no console output: {console!r}"
        time.sleep(0.5)

    quota = cli.json("quota", "show", "--project", "web", profile="op")["resources"]
    assert quota["instances"]["in_use"] == 1 and quota["ram_mb"]["in_use"] == 256
    assert host in cli.run("host", "list", profile="op").stdout

    # A customer administrator sees the server but not the hosts: `server ssh` says why it cannot help.
    cli.json(
        "user", "create", "--org", "C1", "--name", "c1-admin", "--role", "admin", "--password-stdin",
        profile="op", stdin=PW + "\n",
    )  # fmt: skip
    cli.login(server.url, "c1-admin", PW, "c1")
    denied = cli.run("server", "ssh", "vm1", profile="c1", expect=FORBIDDEN)
    assert "only the operator" in denied.stderr
    # The fake driver gives no address: even the operator is told so, in one sentence.
    # a fake host simulates addresses but has no network namespace here: the CLI says where to run it
    assert "reachable only from the host" in cli.run("server", "ssh", "vm1", profile="op", expect=GENERIC).stderr

    cli.run("server", "delete", "vm1", "--wait", profile="op")
    cli.run("server", "show", created["id"], profile="op", expect=NOT_FOUND)
    after = cli.json("quota", "show", "--project", "web", profile="op")["resources"]
    assert after["instances"]["in_use"] == 0

    for out in cli.outputs:
        assert private.strip() not in out, "a private key was printed"
