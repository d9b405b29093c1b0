"""The fault suite (issue 20): a region of real processes (its own PostgreSQL, `hexagone up`, an
agent with the fake driver) under a bounded load of careful clients, while PostgreSQL stops and
restarts, the data disk fills up, the API and the agent are SIGKILLed, and stale and duplicate agent
reports are replayed. After each fault: no acknowledged operation lost or duplicated, host counters
match the rows, no guest runs untracked, the audit chain verifies, and the region serves again by
itself. The unavailability of each fault is printed at the end of the run."""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import FAULT_REPORT
from tests.faults.region import ADMIN_PASSWORD, PASSWORD, Load, Probe, Region, _pg_bin, running
from tests.integration.compute_helpers import small_qcow2

pytestmark = [pytest.mark.integration, pytest.mark.faults,
              pytest.mark.skipif(_pg_bin() is None, reason="PostgreSQL binaries are not installed")]

BIG_QUOTA = {"instances": 10_000, "vcpus": 100_000, "ram_mb": 2**32, "disk_gb": 2**24}
SETTLE_TIMEOUT = 90.0


def ok(c: httpx.Client, method: str, path: str, status: int, **kw: Any) -> Any:
    r = c.request(method, path, **kw)
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def login(url: str, username: str, password: str) -> httpx.Client:
    token = ok(httpx.Client(base_url=url), "POST", "/v1/auth/login", 201,
               json={"username": username, "password": password})["token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def set_up(region: Region, tmp: Path) -> tuple[httpx.Client, Load]:
    op = login(region.url, "admin", ADMIN_PASSWORD)
    root = ok(op, "GET", "/v1/auth/whoami", 200)["organisation"]["id"]
    org = ok(op, "POST", "/v1/organisations", 201, json={"parent_id": root, "kind": "customer", "name": "acme"})
    project = ok(op, "POST", "/v1/projects", 201, json={"org_id": org["id"], "name": "web"})
    ok(op, "PUT", f"/v1/quotas/project/{project['id']}", 200, json=BIG_QUOTA)
    ok(op, "PUT", f"/v1/quotas/org/{org['id']}", 200, json=BIG_QUOTA)
    ok(op, "POST", "/v1/flavors", 201, json={"name": "f1", "vcpus": 1, "ram_mb": 256, "disk_gb": 1})
    ok(op, "POST", "/v1/users", 201, json={"org_id": org["id"], "name": "alice", "password": PASSWORD,
                                          "roles": ["admin"]})
    alice = login(region.url, "alice", PASSWORD)
    image = ok(alice, "POST", "/v1/images", 201, json={"name": "cirros", "disk_format": "qcow2"})
    ok(alice, "PUT", f"/v1/images/{image['id']}/file", 200, content=small_qcow2(tmp),
       headers={"Content-Type": "application/octet-stream"})
    join = ok(op, "POST", "/v1/hosts/join-tokens", 201, json={"region": "local"})["join_token"]
    region.start_agent(join)
    deadline = time.monotonic() + 60
    while not ok(op, "GET", "/v1/hosts", 200)["items"]:
        assert time.monotonic() < deadline, "the agent did not join"
        time.sleep(0.2)
    body = {"project_id": project["id"], "flavor": "f1", "image": image["id"]}
    token = str(alice.headers["Authorization"]).split()[1]
    return op, Load(region.url, token, body)


def settle(region: Region) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        moving = region.sql("SELECT count(*) FROM instances WHERE state IN ('BUILDING', 'DELETING')")[0][0]
        if moving == 0:
            return
        time.sleep(0.5)
    rows = region.sql("SELECT id, name, state FROM instances WHERE state IN ('BUILDING', 'DELETING')")
    raise AssertionError(f"instances still moving after {SETTLE_TIMEOUT} s: {rows}")


def check(region: Region, op: httpx.Client, load: Load, fault: str) -> None:
    """The invariants, with the load paused and the region settled."""
    load.pause()
    try:
        region.wait_healthy(60)
        settle(region)
        assert not load.failures, f"{fault}: clients got refusals: {load.failures[:5]}"
        rows = {r.id: r for r in region.sql("SELECT id, name, state, host_id, vcpus FROM instances")}
        names = collections.Counter(r.name for r in rows.values())
        assert not [n for n, c in names.items() if c > 1], f"{fault}: duplicated creates: {names.most_common(3)}"
        assert set(names) == set(load.acked_creates), f"{fault}: rows and acknowledged creates differ"
        for key, iid in load.acked_creates.items():
            row = rows.get(iid)
            assert row is not None and row.name == key, f"{fault}: acknowledged create {key} lost"
            want = "DELETED" if iid in load.acked_deletes else "RUNNING"
            assert row.state == want, f"{fault}: {key} is {row.state}, expected {want}"
        live = {i for i, r in rows.items() if r.state != "DELETED"}
        [host] = region.sql("SELECT id, vcpus_used, instances_used FROM hosts")
        assert (host.vcpus_used, host.instances_used) == (sum(rows[i].vcpus for i in live), len(live)), (
            f"{fault}: host counters {host.vcpus_used}/{host.instances_used} do not match {len(live)} live rows")
        assert region.guests() == live, f"{fault}: guests {region.guests() ^ live} run untracked or are missing"
        audit = ok(op, "GET", "/v1/audit/verify", 200)
        assert audit["ok"], f"{fault}: the audit chain does not verify: {audit}"
    finally:
        load.resume()


def note(fault: str, probe: Probe, load: Load, since: float, extra: str = "") -> None:
    """Once the region acknowledged writes again: what the fault cost."""
    load.wait_ack(after=time.monotonic(), timeout=60)
    line = (f"{fault:<38} health unavailable {probe.unavailable(since):5.1f} s, "
            f"longest write gap {load.write_gap(since):5.1f} s{'; ' + extra if extra else ''}")
    FAULT_REPORT.append(line)
    print(line)


def fault_postgres_restart(region: Region, load: Load, probe: Probe) -> None:
    since = time.monotonic()
    log_before = len(region.api_log.read_text().splitlines())
    time.sleep(2)
    region.pg.stop()
    time.sleep(5)
    region.pg.start()
    region.wait_healthy(60)
    time.sleep(2)
    lines = len(region.api_log.read_text().splitlines()) - log_before
    note("PostgreSQL stopped 5 s, restarted", probe, load, since, f"{lines} API log lines")


def fault_disk_full(region: Region, load: Load, probe: Probe, op: httpx.Client) -> None:
    if not region.disk.mounted:
        FAULT_REPORT.append("data disk full: skipped (mounting a tmpfs needs root)")
        return
    since = time.monotonic()
    time.sleep(1)
    region.disk.fill()
    h = httpx.get(f"{region.url}/v1/health", timeout=5)
    assert h.status_code == 503 and h.json()["dependency"] == "disk" and h.headers["Retry-After"], h.text
    image = ok(op, "POST", "/v1/images", 201, json={"name": "during-full-disk", "disk_format": "raw"})
    r = op.put(f"/v1/images/{image['id']}/file", content=b"\0" * (2 << 20),
               headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 503 and "disk is full" in r.json()["detail"] and r.headers["Retry-After"], r.text
    time.sleep(3)
    region.disk.free()
    region.wait_healthy(30)
    note("data disk full 3 s", probe, load, since, "uploads answered 503 + Retry-After")


def fault_kill_api(region: Region, load: Load, probe: Probe) -> None:
    since = time.monotonic()
    time.sleep(1)
    region.kill(region.api)
    time.sleep(1)  # the supervisor (systemd) restarts it
    region.start_api()
    note("API SIGKILLed, restarted after 1 s", probe, load, since)


def fault_kill_agent(region: Region, load: Load, probe: Probe) -> None:
    since = time.monotonic()
    [(boot,)] = region.sql("SELECT agent_boot_id FROM hosts")
    time.sleep(1)
    region.kill(region.agent)
    time.sleep(2)
    restarted = time.monotonic()
    region.start_agent()
    while region.sql("SELECT agent_boot_id FROM hosts")[0][0] == boot:
        assert time.monotonic() - restarted < 60, "the restarted agent never reported"
        time.sleep(0.1)
    note("agent SIGKILLed, restarted after 2 s", probe, load, since,
         f"first report of the new agent {time.monotonic() - restarted:.1f} s after its start")


def fault_replayed_reports(region: Region, load: Load, probe: Probe) -> None:
    """Replays of the agent's own report (same boot, same or older sequence) and a forged boot's
    report observed against an old revision: nothing moves."""
    since = time.monotonic()
    load.pause()
    try:
        settle(region)
        [host] = region.sql("SELECT agent_boot_id, agent_seq FROM hosts")
        running_ids = [r.id for r in region.sql("SELECT id FROM instances WHERE state = 'RUNNING'")]
        assert running_ids, "the load left nothing running to replay reports about"
        credential = (region.agent_dir / "credential").read_text().strip()
        headers = {"Authorization": f"Bearer {credential}"}
        crashed = [{"instance_id": i, "power_state": "CRASHED"} for i in running_ids]
        destroyed = [{"instance_id": i, "power_state": "MISSING", "destroyed": True} for i in running_ids]
        with httpx.Client(base_url=region.url, headers=headers, timeout=10) as agent:
            for seq in (host.agent_seq, host.agent_seq - 1):  # a duplicate, then an older one
                r = agent.post("/v1/agent/report", json={"boot_id": host.agent_boot_id, "seq": seq,
                                                        "revision": 10**9, "observations": crashed})
                assert r.status_code == 200 and r.json() == {"applied": 0, "stale": True}, r.text
            r = agent.post("/v1/agent/report", json={"boot_id": "replayed", "seq": 1, "revision": 0,
                                                    "observations": crashed + destroyed})
            assert r.status_code == 200 and r.json()["applied"] == 0, r.text
        states = {r.state for r in region.sql("SELECT state FROM instances WHERE id = ANY(:ids)", ids=running_ids)}
        assert states == {"RUNNING"}, states
    finally:
        load.resume()
    note("stale and duplicate reports replayed", probe, load, since, f"{len(running_ids)} instances untouched")


def test_region_survives_faults_under_load(tmp_path):
    with running(tmp_path) as region:
        op, load = set_up(region, tmp_path)
        probe = Probe(region.url).start()
        load.start()
        try:
            time.sleep(3)
            check(region, op, load, "warm-up")
            fault_postgres_restart(region, load, probe)
            check(region, op, load, "PostgreSQL restart")
            fault_disk_full(region, load, probe, op)
            check(region, op, load, "disk full")
            fault_kill_api(region, load, probe)
            check(region, op, load, "API SIGKILL")
            fault_kill_agent(region, load, probe)
            check(region, op, load, "agent SIGKILL")
            fault_replayed_reports(region, load, probe)
            time.sleep(2)
            check(region, op, load, "replayed reports")
        finally:
            load.stop()
            probe.stop()
        FAULT_REPORT.append(f"{len(load.acked_creates)} creates and {len(load.acked_deletes)} deletes acknowledged, "
                            "none lost or duplicated")
