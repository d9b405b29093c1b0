"""Real VMs through the whole stack: ``hexagone up`` (SQLite), a ``hexagone agent --driver qemu``
process in a network namespace of its own, the tiny image; a few boots, timed from POST to RUNNING
and to guest ready (the guest printed its ready marker on the serial console).

Runs only as root with QEMU and the host tools present (``QemuDriver``'s ``host_problem``). Every
VM is deleted through the API; afterwards whatever is left on the host (VMs, namespace, dnsmasq) is
destroyed by the same driver in this process.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.client import Http
from bench.compute_region import (
    SERVER_ENV,
    AgentProcess,
    Tenant,
    make_tenant,
    register_catalogue,
    wait_state,
    wait_until,
)
from bench.server import ServerProcess, temp_data_dir

CIDR = "10.207.0.1/24"


@dataclass
class QemuRun:
    accel: str
    to_running: float
    to_ready: float
    server_running: float


@dataclass
class QemuResult:
    runs: list[QemuRun] = field(default_factory=list)
    skipped: str = ""


def _stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def bench_qemu(image_dir: Path, runs: int, time_limit: float) -> QemuResult:
    from hexagone.compute.drivers.qemu import host_problem

    problem = host_problem()
    if problem:
        return QemuResult(skipped=problem)
    result = QemuResult()
    namespace = f"hxb-{secrets.token_hex(3)}"
    with temp_data_dir() as tmp, ServerProcess(tmp / "data", env=SERVER_ENV) as server:
        register_catalogue(server, image_dir)
        tenant = make_tenant(server.url)
        state_dir = tmp / "agent-qemu"
        agent = AgentProcess(
            server.url,
            tenant.operator,
            state_dir,
            "bench-qemu",
            driver="qemu",
            extra=("--namespace", namespace, "--cidr", CIDR),
        )
        try:
            _boots(server.url, tenant, runs, time_limit, result)
        finally:
            agent.stop()
            _clean_host(state_dir, namespace)
    return result


def _boots(url: str, tenant: Tenant, runs: int, time_limit: float, result: QemuResult) -> None:
    started = time.monotonic()
    project = tenant.project_id
    with Http(url, tenant.operator) as http:
        for i in range(runs):
            if i and time.monotonic() - started > time_limit:
                break
            t0 = time.perf_counter()
            iid = http.call(
                "POST",
                "/v1/instances",
                {"project_id": project, "name": f"tcg-{i}", "flavor": "tiny", "image": "tiny"},
                expect=202,
            )["id"]
            body = wait_state(http, iid, "RUNNING", timeout=180, interval=0.05)
            t1 = time.perf_counter()

            def ready(iid: str = iid) -> dict[str, object] | None:
                inst = http.call("GET", f"/v1/instances/{iid}")
                return inst if inst["guest_ready"] else None

            inst = wait_until(ready, 180, 0.05)
            t2 = time.perf_counter()
            server_running = (_stamp(body["launched_at"]) - _stamp(body["created_at"])).total_seconds()
            result.runs.append(QemuRun(str(inst["accel"]), t1 - t0, t2 - t0, server_running))
            http.call("DELETE", f"/v1/instances/{iid}", expect=202)
            wait_state(http, iid, "gone", timeout=90, interval=0.1)


def _clean_host(state_dir: Path, namespace: str) -> None:
    """Destroy any VM the agent left and remove the namespace, with the agent's own driver."""
    from hexagone.agent.main import make_driver

    driver = make_driver("qemu", state_dir, namespace, CIDR)
    for status in driver.list_instances():
        driver.destroy(status.instance_id)
    if driver.network is not None:
        driver.network.teardown()
