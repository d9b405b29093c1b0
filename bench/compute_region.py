"""The stage of the compute benchmarks: a real control plane (``hexagone up`` without its local
agent), an operator and a customer with a project and unlimited quotas, compute agents as real
``hexagone agent`` processes, and, for scale figures, hosts and instances written in bulk.

Set-up only: nothing here is timed. Bulk rows are inserted directly into the benchmark's own
database through ``hexagone.db`` models (joining 10,000 hosts through the API would take the whole
time budget); they look like hosts whose agents heartbeat, so the server is started with a
heartbeat grace of an hour to keep them ``up`` without 10,000 agents.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.client import Http, HttpError
from bench.server import ADMIN_PASSWORD, ServerProcess

CUSTOMER_USER = "bench-customer"
CUSTOMER_PASSWORD = "tenant-member-passphrase-2026"
UNLIMITED = {"instances": 1_000_000, "vcpus": 10_000_000, "ram_mb": 2**40, "disk_gb": 1_000_000_000}
SERVER_ENV = {"HEXAGONE_HEARTBEAT_GRACE_SECONDS": "3600"}


def login(url: str, username: str, password: str) -> dict[str, str]:
    with Http(url) as http:
        token = http.call("POST", "/v1/auth/login", {"username": username, "password": password}, expect=201)
    return {"Authorization": f"Bearer {token['token']}"}


@dataclass
class Tenant:
    """The operator's and the customer's credentials, the customer's organisation and project."""

    operator: dict[str, str]
    customer: dict[str, str]
    root_id: str
    org_id: str
    project_id: str


def make_tenant(url: str) -> Tenant:
    operator = login(url, "admin", ADMIN_PASSWORD)
    with Http(url, operator) as http:
        root = http.call("GET", "/v1/auth/whoami")["organisation"]["id"]
        org = http.call(
            "POST", "/v1/organisations", {"parent_id": root, "kind": "customer", "name": "bench-customer"}, expect=201
        )["id"]
        project = http.call("POST", "/v1/projects", {"org_id": org, "name": "bench"}, expect=201)["id"]
        http.call(
            "POST",
            "/v1/users",
            {"org_id": org, "name": CUSTOMER_USER, "password": CUSTOMER_PASSWORD, "roles": ["member"]},
            expect=201,
        )
        for scope, sid in (("org", org), ("project", project)):
            http.call("PUT", f"/v1/quotas/{scope}/{sid}", UNLIMITED)
    return Tenant(operator, login(url, CUSTOMER_USER, CUSTOMER_PASSWORD), root, org, project)


# --- the runtime of the benchmark process, on the server's own database -------------------------------


@contextmanager
def runtime(server: ServerProcess) -> Iterator[Any]:
    """A ``Runtime`` on the server's database and data directory (for set-up writes only)."""
    from hexagone.bootstrap import build_runtime
    from hexagone.settings import Settings

    rt = build_runtime(
        Settings(data_dir=server.data_dir, database_url=server.database_url, admin_password=ADMIN_PASSWORD)
    )
    try:
        yield rt
    finally:
        rt.db.dispose()


def register_catalogue(server: ServerProcess, image_dir: Path) -> None:
    """The default flavors and the tiny system image, as ``hexagone up`` registers them."""
    from hexagone.bootstrap import ensure_catalogue

    with runtime(server) as rt:
        ensure_catalogue(rt, image_dir)


# --- agents ---------------------------------------------------------------------------------------------


class AgentProcess:
    """``hexagone agent`` as a child process in its own process group (stopped as a whole), joined
    with a token the operator asked for through the API."""

    def __init__(
        self,
        url: str,
        operator: dict[str, str],
        state_dir: Path,
        name: str,
        driver: str = "fake",
        extra: tuple[str, ...] = (),
    ) -> None:
        with Http(url, operator) as http:
            token = http.call("POST", "/v1/hosts/join-tokens", {"region": "local"}, expect=201)["join_token"]
        self.state_dir = state_dir
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
        env["HEXAGONE_JOIN_TOKEN"] = token
        state_dir.mkdir(parents=True, exist_ok=True)
        log = (state_dir.parent / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hexagone.main",
                "agent",
                "--url",
                url,
                "--state-dir",
                str(state_dir),
                "--name",
                name,
                "--driver",
                driver,
                *extra,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.url = url
        self.operator = operator
        self.host_id = self._wait_joined()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_joined(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        with Http(self.url, self.operator) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"agent {self.name} exited with {self.proc.returncode}: {self.log_tail()}")
                status, body = http.request("GET", f"/v1/hosts/{self.name}")
                if status == 200:
                    return str(json.loads(body)["id"])
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"agent {self.name} did not join within {timeout} s: {self.log_tail()}")

    def log_tail(self, chars: int = 1500) -> str:
        path = self.state_dir.parent / f"{self.name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def widen_host(url: str, operator: dict[str, str], host_id: str) -> None:
    """Overcommit the agent's host so sustained runs never hit its capacity (the fake driver still
    enforces its own, 32 vCPU / 128 GiB)."""
    with Http(url, operator) as http:
        http.call("PATCH", f"/v1/hosts/{host_id}", {"cpu_ratio": 64, "ram_ratio": 1.0})


# --- polling ---------------------------------------------------------------------------------------------


def wait_until(fn: Callable[[], Any], timeout: float, interval: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def wait_state(http: Http, iid: str, state: str, timeout: float = 30, interval: float = 0.005) -> dict[str, Any]:
    """Poll GET /v1/instances/{id} until ``state`` (``"gone"``: until 404); ERROR raises."""

    def check() -> dict[str, Any] | None:
        status, body = http.request("GET", f"/v1/instances/{iid}")
        if state == "gone":
            return {"id": iid} if status == 404 else None
        if status != 200:
            raise HttpError(f"GET /v1/instances/{iid}: {status} {body[:300]!r}")
        inst: dict[str, Any] = json.loads(body)
        if inst["state"] == "ERROR":
            raise HttpError(f"instance {iid} went to ERROR: {inst['error_reason']}")
        return inst if inst["state"] == state else None

    return wait_until(check, timeout, interval)  # type: ignore[no-any-return]


def wait_project_empty(url: str, headers: dict[str, str], project_id: str, timeout: float = 60) -> None:
    """Until every instance of the project is gone (its agent destroyed it and reported)."""
    with Http(url, headers) as http:
        wait_until(
            lambda: not http.call("GET", f"/v1/instances?project_id={project_id}&limit=1")["items"], timeout, 0.2
        )


# --- bulk rows -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    region_id: str
    zone_id: str
    flavor_id: str
    image_id: str
    user_id: str
    org_path: str


def catalogue(rt: Any, tenant: Tenant, flavor: str = "tiny", image: str = "tiny") -> Catalogue:
    from sqlalchemy import select

    from hexagone.db.compute_models import Flavor, Image
    from hexagone.db.models import Organisation, Region, User, Zone

    with rt.db.read() as s:
        region = s.execute(select(Region).where(Region.name == rt.settings.region)).scalar_one()
        zone = s.execute(select(Zone).where(Zone.region_id == region.id).order_by(Zone.name)).scalars().first()
        return Catalogue(
            region_id=region.id,
            zone_id=zone.id,
            flavor_id=s.execute(select(Flavor.id).where(Flavor.name == flavor)).scalar_one(),
            image_id=s.execute(select(Image.id).where(Image.name == image)).scalars().first(),
            user_id=s.execute(select(User.id).where(User.name == CUSTOMER_USER)).scalar_one(),
            org_path=s.execute(select(Organisation.path).where(Organisation.id == tenant.org_id)).scalar_one(),
        )


def add_hosts(rt: Any, cat: Catalogue, count: int, start: int = 0, per_host_instances: int = 0) -> list[str]:
    """``count`` up hosts named ``bench-host-N`` (32 vCPU, 128 GiB, 2 TB, the defaults of the fake
    driver), their claims already counting ``per_host_instances`` tiny instances."""
    from sqlalchemy import insert

    from hexagone.db.compute_models import Host
    from hexagone.ids import new_id

    now = dt.datetime.now(dt.UTC)
    rows = []
    for n in range(start, start + count):
        hid = new_id()
        rows.append(
            {
                "id": hid,
                "name": f"bench-host-{n}",
                "region_id": cat.region_id,
                "zone_id": cat.zone_id,
                "status": "up",
                "credential_hash": hashlib.sha256(hid.encode()).hexdigest(),
                "vcpus": 32,
                "ram_mb": 131072,
                "disk_gb": 2000,
                "vcpus_used": per_host_instances,
                "ram_mb_used": 256 * per_host_instances,
                "disk_gb_used": per_host_instances,
                "instances_used": per_host_instances,
                "cpu_ratio": 4.0,
                "ram_ratio": 1.0,
                "disk_ratio": 1.0,
                "capabilities": {"accel": "fake", "enforces_capacity": True},
                "desired_revision": 1,
                "last_heartbeat_at": now,
                "agent_version": "0.1.0",
                "unmanaged": [],
                "created_at": now,
            }
        )
    with rt.db.write() as s:
        for i in range(0, len(rows), 2000):
            s.execute(insert(Host), rows[i : i + 2000])
    return [r["id"] for r in rows]


def add_instances(rt: Any, cat: Catalogue, tenant: Tenant, host_ids: list[str], per_host: int) -> int:
    """``per_host`` RUNNING tiny instances on each host, in the customer's project."""
    from sqlalchemy import insert

    from hexagone.compute.ipam import mac_for
    from hexagone.db.compute_models import Instance
    from hexagone.ids import new_id

    now = dt.datetime.now(dt.UTC)
    rows = []
    for h, host_id in enumerate(host_ids):
        for k in range(per_host):
            iid = new_id()
            rows.append(
                {
                    "id": iid,
                    "name": f"vm-{h}-{k}",
                    "project_id": tenant.project_id,
                    "org_id": tenant.org_id,
                    "org_path": cat.org_path,
                    "user_id": cat.user_id,
                    "flavor_id": cat.flavor_id,
                    "image_id": cat.image_id,
                    "vcpus": 1,
                    "ram_mb": 256,
                    "disk_gb": 1,
                    "region_id": cat.region_id,
                    "zone_id": cat.zone_id,
                    "host_id": host_id,
                    "server_group_id": None,
                    "state": "RUNNING",
                    "task": "",
                    "desired_power": "running",
                    "reboot_seq": 0,
                    "error_reason": "",
                    "guest_ready": True,
                    "key_name": None,
                    "ssh_keys": [],
                    "user_data": None,
                    "metadata_": {},
                    "mac": mac_for(iid),
                    "ip": None,
                    "accel": "fake",
                    "created_at": now,
                    "updated_at": now,
                    "launched_at": now,
                }
            )
    with rt.db.write() as s:
        for i in range(0, len(rows), 2000):
            s.execute(insert(Instance), rows[i : i + 2000])
    return len(rows)
