"""Compute section: the control plane's cost of running instances, against a real ``hexagone up``
process on 127.0.0.1 (SQLite, and PostgreSQL when a server is given), with compute agents as real
``hexagone agent --driver fake`` processes joined through the API.

Per database, in this order: create → RUNNING latency with one fake agent; sustained
create → RUNNING → delete → gone cycles and raw create+delete calls with several clients; the
agent's memory with 100 instances; then, with hosts and instances written in bulk
(``bench.compute_region``), API placement with 1,000 and 10,000 hosts, paging through 10,000
instances as the operator and as a customer, and the server's memory. Pure ``scheduler.place`` is
timed in this process; a few real VMs (QEMU, SQLite) go through the whole stack last.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import Context, Result
from bench.client import Http
from bench.compute_qemu import QemuResult, bench_qemu
from bench.compute_region import (
    SERVER_ENV,
    AgentProcess,
    Tenant,
    add_hosts,
    add_instances,
    catalogue,
    make_tenant,
    register_catalogue,
    runtime,
    wait_project_empty,
    wait_state,
    wait_until,
    widen_host,
)
from bench.framework import (
    Stats,
    collect,
    describe_machine,
    machine_busy,
    measure,
    measure_concurrent,
    peak_rss_mb,
    rss_mb,
)
from bench.identity import Conditions
from bench.server import ServerProcess, fresh_pg_database, pg_version, temp_data_dir

CLIENTS = 4
POLL = 0.005  # seconds between two GETs while waiting for a state


@dataclass(frozen=True)
class Budget:
    """How much work each measurement does; ``quick`` is a smoke run of the whole section."""

    latency_runs: int = 40
    cycle_seconds: float = 8.0
    raw_seconds: float = 5.0
    agent_instances: int = 30  # the fake driver holds 32 vCPU: 32 one-vCPU instances at most
    small_hosts: int = 1_000
    large_hosts: int = 10_000
    instances_per_host: int = 10
    pure_place: int = 400
    api_creates: int = 60
    shows: int = 200
    qemu_runs: int = 3
    qemu_seconds: float = 100.0

    @classmethod
    def for_context(cls, ctx: Context) -> Budget:
        if ctx.quick:
            return cls(
                latency_runs=5,
                cycle_seconds=1.5,
                raw_seconds=1.0,
                agent_instances=10,
                small_hosts=100,
                large_hosts=1_000,
                instances_per_host=10,
                pure_place=30,
                api_creates=8,
                shows=20,
                qemu_runs=1,
                qemu_seconds=30,
            )
        return cls()


@dataclass
class BackendRun:
    label: str
    stats: dict[str, Stats] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


# --- measurements with one fake agent ------------------------------------------------------------------


def _body(tenant: Tenant, name: str) -> dict[str, Any]:
    return {"project_id": tenant.project_id, "name": name, "flavor": "tiny", "image": "tiny"}


def _seconds_between(later: str, earlier: str) -> float:
    return (dt.datetime.fromisoformat(later) - dt.datetime.fromisoformat(earlier)).total_seconds()


def bench_create_latency(url: str, tenant: Tenant, runs: int) -> tuple[Stats, Stats, Stats]:
    """(client POST → RUNNING seen, server launched_at − created_at, the POST alone). Each instance
    is deleted (and gone) before the next, so the agent's desired state holds one instance."""
    observed: list[float] = []
    recorded: list[float] = []
    posts: list[float] = []
    with Http(url, tenant.operator) as http:
        for i in range(runs + 2):  # two untimed: the agent downloads the image on its first
            t0 = time.perf_counter()
            iid = http.call("POST", "/v1/instances", _body(tenant, f"lat-{i}"), expect=202)["id"]
            t1 = time.perf_counter()
            inst = wait_state(http, iid, "RUNNING", interval=POLL)
            t2 = time.perf_counter()
            if i >= 2:
                posts.append(t1 - t0)
                observed.append(t2 - t0)
                recorded.append(_seconds_between(inst["launched_at"], inst["created_at"]))
            http.call("DELETE", f"/v1/instances/{iid}", expect=202)
            wait_state(http, iid, "gone", interval=0.02)
    return (Stats.of(observed, sum(observed)), Stats.of(recorded, sum(recorded)), Stats.of(posts, sum(posts)))


def _cycle_op(url: str, tenant: Tenant) -> Callable[[int], Callable[[], object]]:
    def make(i: int) -> Callable[[], object]:
        http = Http(url, tenant.operator)
        n = [0]

        def op() -> None:
            n[0] += 1
            iid = http.call("POST", "/v1/instances", _body(tenant, f"cyc-{i}-{n[0]}"), expect=202)["id"]
            wait_state(http, iid, "RUNNING", interval=POLL * 2)
            http.call("DELETE", f"/v1/instances/{iid}", expect=202)
            wait_state(http, iid, "gone", interval=POLL * 2)

        return op

    return make


def _raw_op(url: str, tenant: Tenant) -> Callable[[int], Callable[[], object]]:
    def make(i: int) -> Callable[[], object]:
        http = Http(url, tenant.operator)
        n = [0]

        def op() -> None:
            n[0] += 1
            iid = http.call("POST", "/v1/instances", _body(tenant, f"raw-{i}-{n[0]}"), expect=202)["id"]
            http.call("DELETE", f"/v1/instances/{iid}", expect=202)

        return op

    return make


def bench_agent_memory(url: str, tenant: Tenant, agent: AgentProcess, count: int) -> tuple[float, float]:
    """(RSS, peak RSS) of the agent process once it runs ``count`` instances; then deletes them."""
    ids: list[str] = []
    with Http(url, tenant.operator) as http:
        for i in range(count):
            ids.append(http.call("POST", "/v1/instances", _body(tenant, f"mem-{i}"), expect=202)["id"])
        query = f"/v1/instances?project_id={tenant.project_id}&state=RUNNING&limit=1000"
        wait_until(lambda: len(http.call("GET", query)["items"]) >= count, 60, 0.25)
        time.sleep(2.0)  # a few more agent rounds (heartbeat, report) with all of them
        rss, peak = rss_mb(agent.pid), peak_rss_mb(agent.pid)
        for iid in ids:
            http.call("DELETE", f"/v1/instances/{iid}", expect=202)
    wait_project_empty(url, tenant.operator, tenant.project_id)
    return rss, peak


# --- placement -----------------------------------------------------------------------------------------


def _views(n: int, seed: int = 7) -> list[Any]:
    from hexagone.compute.scheduler import HostView

    rnd = random.Random(seed)
    views = []
    for i in range(n):
        used = rnd.randrange(0, 100)
        views.append(
            HostView(
                f"h{i}",
                "r",
                "z",
                "FR",
                "up",
                32,
                131072,
                2000,
                used,
                used * 256,
                used,
                4.0,
                1.0,
                1.0,
                {"accel": "fake"},
            )
        )
    return views


def bench_pure_place(hosts: int, count: int) -> Stats:
    """``scheduler.place`` for a tiny flavor over ``hosts`` plain host snapshots, in-process."""
    from hexagone.compute.scheduler import Request, place

    views = _views(hosts)
    req = Request(vcpus=1, ram_mb=256, disk_gb=1, region_id="r")
    return measure(lambda: place(views, req), count=count, warmup=5)


def bench_host_views(rt: Any, region_id: str, count: int) -> Stats:
    """One placement as a create does it, minus the claim: the database's shortlist of the best
    hosts (``placement.shortlist``) then every pure filter and the weigher (``scheduler.place``)."""
    from hexagone.audit.service import Actor
    from hexagone.compute.placement import shortlist
    from hexagone.compute.scheduler import Request, place
    from hexagone.usecase import UseCase

    req = Request(vcpus=1, ram_mb=256, disk_gb=1, region_id=region_id)

    def timed() -> float:
        with rt.db.read() as session:
            uc = UseCase(session=session, now=rt.clock.now(), settings=rt.settings, hasher=rt.hasher, actor=Actor())
            t0 = time.perf_counter()
            place(shortlist(uc, req, "spread", "FR"), req)
            return time.perf_counter() - t0

    return collect(timed, count=count, warmup=2)


def bench_api_creates(url: str, tenant: Tenant, count: int, tag: str) -> Stats:
    """POST /v1/instances (placed, claimed, 202) among the hosts in the database; they have no
    agents, so the instances stay BUILDING."""
    with Http(url, tenant.operator) as http:
        n = [0]

        def op() -> None:
            n[0] += 1
            http.call("POST", "/v1/instances", _body(tenant, f"{tag}-{n[0]}"), expect=202)

        return measure(op, count=count, warmup=2)


# --- listing -------------------------------------------------------------------------------------------


def bench_pages(url: str, headers: dict[str, str], path: str, limit: int) -> tuple[Stats, list[str]]:
    """Every page of ``path`` at ``limit`` items, following ``next_cursor``: per-page latencies and
    the ids seen."""
    samples: list[float] = []
    ids: list[str] = []
    cursor = None
    with Http(url, headers) as http:
        http.call("GET", f"{path}?limit={limit}")  # warm-up
        started = time.perf_counter()
        while True:
            query = f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            t0 = time.perf_counter()
            page = http.call("GET", query)
            samples.append(time.perf_counter() - t0)
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
    return Stats.of(samples, time.perf_counter() - started), ids


def bench_shows(url: str, headers: dict[str, str], ids: list[str], count: int) -> Stats:
    chosen = random.Random(3).sample(ids, min(count, len(ids)))
    it = iter(chosen)
    with Http(url, headers) as http:
        return measure(lambda: http.call("GET", f"/v1/instances/{next(it)}"), count=len(chosen))


# --- one database --------------------------------------------------------------------------------------


def bench_backend(label: str, database_url: str, image_dir: Path, budget: Budget) -> BackendRun:
    with temp_data_dir() as tmp, ServerProcess(tmp / "data", database_url, env=SERVER_ENV) as server:
        try:
            return _backend(label, server, tmp, image_dir, budget)
        except Exception:
            print(f"{label}: the server's log ends with:\n{server.log_tail(6000)}", flush=True)
            raise


def _backend(label: str, server: ServerProcess, tmp: Path, image_dir: Path, budget: Budget) -> BackendRun:
    run = BackendRun(label)
    s = run.stats
    url = server.url
    register_catalogue(server, image_dir)
    tenant = make_tenant(url)
    time.sleep(0.5)
    run.rss["server_idle"] = rss_mb(server.pid)

    agent = AgentProcess(url, tenant.operator, tmp / "agent-1", "bench-agent-1")
    try:
        widen_host(url, tenant.operator, agent.host_id)
        run.rss["agent_idle"] = rss_mb(agent.pid)
        print(f"{label}: create → RUNNING…", flush=True)
        s["running"], s["running_server"], s["post"] = bench_create_latency(url, tenant, budget.latency_runs)
        print(f"{label}: sustained create/delete…", flush=True)
        s["cycle"] = measure_concurrent(
            _cycle_op(url, tenant), clients=CLIENTS, count=10**6, seconds=budget.cycle_seconds, warmup=1
        )
        s["raw"] = measure_concurrent(
            _raw_op(url, tenant), clients=CLIENTS, count=10**6, seconds=budget.raw_seconds, warmup=1
        )
        wait_project_empty(url, tenant.operator, tenant.project_id, timeout=120)
        print(f"{label}: agent with {budget.agent_instances} instances…", flush=True)
        run.rss["agent_loaded"], run.rss["agent_peak"] = bench_agent_memory(url, tenant, agent, budget.agent_instances)
        run.rss["server_after_agent"] = rss_mb(server.pid)
    finally:
        agent.stop()

    print(
        f"{label}: {budget.small_hosts:,} hosts, {budget.small_hosts * budget.instances_per_host:,} instances…",
        flush=True,
    )
    with runtime(server) as rt:
        cat = catalogue(rt, tenant)
        hosts = add_hosts(rt, cat, budget.small_hosts, per_host_instances=budget.instances_per_host)
        run.counts["instances"] = add_instances(rt, cat, tenant, hosts, budget.instances_per_host)
        s["views_small"] = bench_host_views(rt, cat.region_id, budget.api_creates)
        s["api_small"] = bench_api_creates(url, tenant, budget.api_creates, "small")
        for who, headers in (("op", tenant.operator), ("cust", tenant.customer)):
            for limit in (100, 1000):
                s[f"list_{who}_{limit}"], ids = bench_pages(url, headers, "/v1/instances", limit)
                run.counts[f"listed_{who}"] = len(ids)
        s["show"] = bench_shows(url, tenant.customer, ids, budget.shows)
        time.sleep(0.5)
        run.rss["server_scale"] = rss_mb(server.pid)

        print(f"{label}: {budget.large_hosts:,} hosts…", flush=True)
        add_hosts(rt, cat, budget.large_hosts - budget.small_hosts, start=budget.small_hosts)
        s["views_large"] = bench_host_views(rt, cat.region_id, budget.api_creates)
        s["api_large"] = bench_api_creates(url, tenant, budget.api_creates, "large")
        s["hosts_pages"], host_ids = bench_pages(url, tenant.operator, "/v1/hosts", 1000)
        run.counts["hosts"] = len(host_ids)
        time.sleep(0.5)
        run.rss["server_large"] = rss_mb(server.pid)
        run.rss["server_peak"] = peak_rss_mb(server.pid)
    return run


def _databases(ctx: Context) -> Iterator[tuple[str, AbstractContextManager[str]]]:
    yield "SQLite", nullcontext("")
    if ctx.pg_server_url:
        yield "PostgreSQL", fresh_pg_database(ctx.pg_server_url)


def run(ctx: Context) -> Result:
    from bench.compute_report import Figures, render
    from hexagone.images.tiny import tiny_image

    budget = Budget.for_context(ctx)
    busy_before = machine_busy()
    machine = describe_machine(postgresql=pg_version(ctx.pg_server_url) if ctx.pg_server_url else None)
    image_dir = tiny_image(ctx.root / ".data" / "images").parent
    pure = {n: bench_pure_place(n, budget.pure_place) for n in (budget.small_hosts, budget.large_hosts)}
    runs: list[BackendRun] = []
    for label, database in _databases(ctx):
        with database as url:
            runs.append(bench_backend(label, url, image_dir, budget))
    print("QEMU: real VMs through the whole stack…", flush=True)
    qemu: QemuResult = bench_qemu(image_dir, budget.qemu_runs, budget.qemu_seconds)
    conditions = Conditions(busy_before, machine_busy())
    return render(Figures(machine, conditions, budget, pure, runs, qemu, skipped_pg=not ctx.pg_server_url))
