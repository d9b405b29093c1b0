"""The unmodified OpenStack clients against a running Hexagone: the ``openstack`` CLI (as a
subprocess) and an openstacksdk script drive a server's whole life cycle through the facade, with
a real uvicorn server and a compute agent on the fake driver.

Runs on SQLite only (the facade's PostgreSQL coverage is in tests/integration/test_openstack_api.py):
the CLI's ``--wait`` polls every 5 s, and this scenario must stay near a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hexagone.bootstrap import Runtime, ensure_catalogue
from hexagone.clock import SystemClock
from hexagone.compute.drivers.fake import FakeDriver
from tests.helpers import PASSWORD, Api
from tests.integration.compute_helpers import small_qcow2, upload_image
from tests.live import AgentThread, live_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
OPENSTACK = str(Path(sys.executable).parent / "openstack")


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only for this slow scenario (overrides the conftest's SQLite + PostgreSQL pair)."""
    import shutil

    target = tmp_path / "hexagone.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> SystemClock:  # type: ignore[override]
    """Real time: the clients compare token expiry with their own clock."""
    return SystemClock()


@pytest.fixture
def cloud(api: Api, rt: Runtime, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A customer ``acme`` with project ``demo``, member ``alice``, image ``cirros``; the server and
    an agent running. Yields the environment of the ``openstack`` CLI."""
    ensure_catalogue(rt, None)
    op = api.admin()
    org = api.org(op, api.root_id(op), "customer", name="acme")
    api.project(op, org["id"], name="demo")
    _, alice = api.user(op, org["id"], ["member"], name="alice")
    upload_image(alice, small_qcow2(tmp_path), name="cirros")
    with live_server(rt) as url:
        agent = AgentThread(rt, url, tmp_path / "agent", FakeDriver()).start()
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
            env.update(
                {
                    "OS_AUTH_URL": f"{url}/identity",
                    "OS_USERNAME": "alice",
                    "OS_PASSWORD": PASSWORD,
                    "OS_PROJECT_NAME": "demo",
                    "OS_USER_DOMAIN_NAME": "acme",
                    "OS_PROJECT_DOMAIN_NAME": "acme",
                    "OS_IDENTITY_API_VERSION": "3",
                    "OS_REGION_NAME": "local",
                    "HOME": str(tmp_path),
                    "OS_CLOUD": "",
                }
            )
            yield env
        finally:
            agent.stop()


def osc(env: dict[str, str], *args: str, json_out: bool = True) -> Any:
    cmd = [OPENSTACK, *args, *(["-f", "json"] if json_out else [])]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=90, check=False)
    assert r.returncode == 0, f"openstack {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout) if json_out and r.stdout.strip() else r.stdout


def test_openstack_cli_server_life_cycle(cloud: dict[str, str]) -> None:
    started = time.monotonic()
    token = osc(cloud, "token", "issue")
    assert token["id"].startswith("hxt_") and token["project_id"] and token["user_id"]
    services = {s["Type"] for s in osc(cloud, "catalog", "list")}
    assert {"identity", "compute", "image", "network"} <= services
    assert "tiny" in [f["Name"] for f in osc(cloud, "flavor", "list")]
    assert [i["Name"] for i in osc(cloud, "image", "list")] == ["cirros"]
    assert "default" in [n["Name"] for n in osc(cloud, "network", "list")]
    key = osc(cloud, "keypair", "create", "k1", json_out=False)
    assert "PRIVATE KEY" in key

    server = osc(
        cloud,
        "server",
        "create",
        "--flavor",
        "tiny",
        "--image",
        "cirros",
        "--network",
        "default",
        "--key-name",
        "k1",
        "--wait",
        "vm1",
    )
    assert server["status"] == "ACTIVE" and server["key_name"] == "k1"
    listed = osc(cloud, "server", "list")
    assert [(s["Name"], s["Status"], s["Image"], s["Flavor"]) for s in listed] == [
        ("vm1", "ACTIVE", "cirros", "tiny")
    ]
    shown = osc(cloud, "server", "show", "vm1")
    assert shown["id"] == server["id"] and shown["status"] == "ACTIVE"

    osc(cloud, "server", "stop", "vm1", json_out=False)
    _wait_status(cloud, "vm1", "SHUTOFF")
    osc(cloud, "server", "start", "vm1", json_out=False)
    _wait_status(cloud, "vm1", "ACTIVE")
    osc(cloud, "server", "delete", "--wait", "vm1", json_out=False)
    assert osc(cloud, "server", "list") == []
    assert time.monotonic() - started < 120


def _wait_status(env: dict[str, str], name: str, status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        shown = osc(env, "server", "show", name, "-c", "status")
        if shown["status"] == status or time.monotonic() > deadline:
            assert shown["status"] == status
            return
        time.sleep(0.5)


@pytest.mark.filterwarnings("ignore::Warning:openstack")  # the SDK's own deprecation notices
def test_openstacksdk_server_life_cycle(cloud: dict[str, str]) -> None:
    """The same life cycle with openstacksdk, in process."""
    import openstack

    conn = openstack.connect(
        auth_url=cloud["OS_AUTH_URL"],
        username="alice",
        password=PASSWORD,
        project_name="demo",
        user_domain_name="acme",
        project_domain_name="acme",
        region_name="local",
        identity_api_version="3",
        load_envvars=False,
        load_yaml_config=False,
    )
    try:
        image = conn.image.find_image("cirros", ignore_missing=False)
        flavor = conn.compute.find_flavor("tiny", ignore_missing=False)
        network = conn.network.find_network("default", ignore_missing=False)
        conn.compute.create_keypair(name="k2")
        server = conn.compute.create_server(
            name="vm2", image_id=image.id, flavor_id=flavor.id, networks=[{"uuid": network.id}], key_name="k2"
        )
        server = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=30)
        assert server.name == "vm2" and server.flavor["id"] == flavor.id
        assert [s.name for s in conn.compute.servers()] == ["vm2"]
        conn.compute.stop_server(server)
        conn.compute.wait_for_server(server, status="SHUTOFF", interval=0.5, wait=30)
        conn.compute.start_server(server)
        conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=30)
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, interval=0.5, wait=30)
        assert list(conn.compute.servers()) == []
        conn.compute.delete_keypair("k2")
    finally:
        conn.close()
