"""Admission section: does one flooding client starve everyone else? Against a real ``hexagone up``
process (SQLite, and PostgreSQL when a server is given), with 1,000 instances in one project.

In ONE server run, side by side: ``/v1/health`` p50/p99 and another client's small authenticated
GET, alone, then under a 16-connection list flood (``GET /v1/instances?limit=1000`` by one
customer) and under a 16-connection login flood (wrong passwords for unknown names). The flooding
clients connect from 127.0.0.2, the measured ones from 127.0.0.1, so per-source limits fall on the
flood only. Then the cost of admission control itself: the small authenticated GET on two servers,
one with ``HEXAGONE_ADMISSION_ENABLED=false``, measured in alternating rounds.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from bench import Context, Result
from bench.client import Http, HttpError
from bench.compute_region import SERVER_ENV, Tenant, add_hosts, add_instances, catalogue, make_tenant, runtime
from bench.framework import Stats, describe_machine, machine_busy, measure, ms
from bench.identity import Conditions
from bench.report import Aim, Table, aims_table, machine_markdown
from bench.server import ServerProcess, fresh_pg_database, pg_version, temp_data_dir

FLOOD = 16
FLOOD_SOURCE = "127.0.0.2"


@dataclass(frozen=True)
class Budget:
    instances: int = 1_000
    seconds: float = 6.0
    rounds: int = 6
    round_seconds: float = 1.0

    @classmethod
    def for_context(cls, ctx: Context) -> Budget:
        return cls(instances=200, seconds=1.5, rounds=2, round_seconds=0.3) if ctx.quick else cls()


@dataclass
class Phase:
    """One condition (quiet, list flood, login flood): what the measured clients saw, and what
    the flooding connections got back (status -> count)."""

    health: Stats
    other: Stats
    flood: Counter[int] = field(default_factory=Counter)
    flood_wall: float = 0.0


@dataclass
class BackendRun:
    label: str
    phases: dict[str, Phase] = field(default_factory=dict)
    limiter: dict[str, Stats] = field(default_factory=dict)  # "on" / "off": small GET, alternating rounds


# --- stage -------------------------------------------------------------------------------------------


def add_image(rt: Any) -> None:
    """A public image row named ``tiny`` (no disk: the instances are rows, nothing boots)."""
    from sqlalchemy import select

    from hexagone.bootstrap import ensure_catalogue
    from hexagone.db.compute_models import Image
    from hexagone.db.models import Organisation
    from hexagone.ids import new_id

    ensure_catalogue(rt, None)
    now = dt.datetime.now(dt.UTC)
    with rt.db.write() as s:
        root = s.execute(select(Organisation).where(Organisation.parent_id.is_(None))).scalar_one()
        s.add(Image(id=new_id(), name="tiny", owner_org_id=None, org_path=root.path, visibility="public",
                    status="active", disk_format="qcow2", container_format="bare", size_bytes=1,
                    virtual_size_bytes=2**30, checksum_sha256="0" * 64, min_disk_gb=1, min_ram_mb=0,
                    boot={}, properties={"source": "bench"}, protected=False, created_at=now, updated_at=now))


def stage(server: ServerProcess, instances: int) -> Tenant:
    tenant = make_tenant(server.url)
    with runtime(server) as rt:
        add_image(rt)
        cat = catalogue(rt, tenant)
        hosts = add_hosts(rt, cat, max(1, instances // 10), per_host_instances=10)
        add_instances(rt, cat, tenant, hosts, 10)
    return tenant


# --- load --------------------------------------------------------------------------------------------


class Flood:
    """``FLOOD`` threads, each on its own keep-alive connection from ``FLOOD_SOURCE``, calling
    ``op(http, i)`` (which returns the status) until stopped."""

    def __init__(self, url: str, op: Callable[[Http, int], int], headers: dict[str, str] | None = None) -> None:
        self.url, self.op, self.headers = url, op, headers or {}
        self.statuses: Counter[int] = Counter()
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(FLOOD)]
        self.started = 0.0

    def _run(self, i: int) -> None:
        http = Http(self.url, self.headers, source=FLOOD_SOURCE)
        n = 0
        while not self.stop_event.is_set():
            try:
                status = self.op(http, n * FLOOD + i)
            except OSError:
                status = 0
                http.close()
                http = Http(self.url, self.headers, source=FLOOD_SOURCE)
            with self.lock:
                self.statuses[status] += 1
            n += 1
            if status in (429, 503):
                time.sleep(0.001)  # a well-behaved client would sleep Retry-After; a flood does not
        http.close()

    def __enter__(self) -> Flood:
        self.started = time.perf_counter()
        for t in self.threads:
            t.start()
        time.sleep(0.5)  # let the flood reach its steady state
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(60)
        self.wall = time.perf_counter() - self.started


def list_op(http: Http, _n: int) -> int:
    return http.request("GET", "/v1/instances?limit=1000")[0]


def login_op(http: Http, n: int) -> int:
    body = {"username": f"nobody-{n}-{uuid.uuid4().hex[:6]}", "password": "wrong-password-for-bench"}
    return http.request("POST", "/v1/auth/login", body)[0]


def _ok(http: Http, path: str) -> Callable[[], None]:
    def op() -> None:
        status, body = http.request("GET", path)
        if status != 200:
            raise HttpError(f"GET {path}: {status} {body[:300]!r}")

    return op


def measure_both(url: str, tenant: Tenant, seconds: float) -> tuple[Stats, Stats]:
    """Health (anonymous) and the operator's small GET, from 127.0.0.1, one after the other."""
    with Http(url) as health, Http(url, tenant.operator) as other:
        h = measure(_ok(health, "/v1/health"), count=10**6, seconds=seconds / 2, warmup=20)
        o = measure(_ok(other, f"/v1/projects/{tenant.project_id}"), count=10**6, seconds=seconds / 2, warmup=20)
    return h, o


def phases(server: ServerProcess, tenant: Tenant, budget: Budget) -> dict[str, Phase]:
    url = server.url
    out: dict[str, Phase] = {}
    out["quiet"] = Phase(*measure_both(url, tenant, budget.seconds))
    for name, op, headers in (("list flood", list_op, tenant.customer), ("login flood", login_op, {})):
        with Flood(url, op, headers) as flood:
            h, o = measure_both(url, tenant, budget.seconds)
        out[name] = Phase(h, o, flood.statuses, flood.wall)
    return out


def limiter_cost(on: ServerProcess, off: ServerProcess, budget: Budget) -> dict[str, Stats]:
    """The small authenticated GET on both servers, alternating rounds so both see the same machine."""
    samples: dict[str, list[float]] = {"on": [], "off": []}
    walls: dict[str, float] = {"on": 0.0, "off": 0.0}
    clients: dict[str, tuple[Http, str]] = {}
    for name, server in (("on", on), ("off", off)):
        t = make_tenant(server.url)
        clients[name] = (Http(server.url, t.operator), f"/v1/projects/{t.project_id}")
    try:
        for name in ("on", "off"):  # warm-up
            http, path = clients[name]
            for _ in range(50):
                _ok(http, path)()
        for _ in range(budget.rounds):
            for name in ("on", "off"):
                http, path = clients[name]
                op = _ok(http, path)
                start = time.perf_counter()
                while time.perf_counter() - start < budget.round_seconds:
                    t0 = time.perf_counter()
                    op()
                    samples[name].append(time.perf_counter() - t0)
                walls[name] += time.perf_counter() - start
        return {name: Stats.of(samples[name], walls[name]) for name in ("on", "off")}
    finally:
        for http, _ in clients.values():
            http.close()


def bench_backend(label: str, database_url: str, budget: Budget) -> BackendRun:
    run = BackendRun(label)
    with temp_data_dir() as tmp, ServerProcess(tmp / "on", database_url, env=SERVER_ENV) as server:
        try:
            tenant = stage(server, budget.instances)
            print(f"{label}: quiet, list flood, login flood…", flush=True)
            run.phases = phases(server, tenant, budget)
        except Exception:
            print(f"{label}: the server's log ends with:\n{server.log_tail(6000)}", flush=True)
            raise
    with temp_data_dir() as tmp, ServerProcess(tmp / "on", "") as on, \
            ServerProcess(tmp / "off", "", env={"HEXAGONE_ADMISSION_ENABLED": "false"}) as off:
        if label == "SQLite":
            print(f"{label}: admission on / off…", flush=True)
            run.limiter = limiter_cost(on, off, budget)
    return run


# --- report ------------------------------------------------------------------------------------------

PHASES = ("quiet", "list flood", "login flood")


def _flood_text(p: Phase) -> str:
    if not p.flood:
        return "-"
    return ", ".join(f"{n} × {status or 'error'}" for status, n in sorted(p.flood.items()))


def _table(runs: list[BackendRun]) -> Table:
    table = Table(["condition", "database", "health p50 ms", "health p99 ms", "other client's GET p50 ms",
                   "other p99 ms", "what the flood got"])
    for r in runs:
        for name in PHASES:
            p = r.phases[name]
            table.add(name, r.label, ms(p.health.p50), ms(p.health.p99), ms(p.other.p50), ms(p.other.p99),
                      _flood_text(p))
    return table


def _aims(runs: list[BackendRun]) -> list[Aim]:
    aims: list[Aim] = []
    for r in runs:
        quiet = r.phases["quiet"]
        for name in PHASES[1:]:
            p = r.phases[name]
            aims.append(Aim(f"health p99 under the {name}, {r.label}", "≤ 50 ms", f"{ms(p.health.p99)} ms",
                            p.health.p99 <= 0.050))
            ratio = p.other.p50 / quiet.other.p50
            aims.append(Aim(f"other client's GET p50 under the {name} vs quiet, {r.label}", "≤ 2×",
                            f"{ratio:.1f}×", ratio <= 2))
            limited = p.flood[429] + p.flood[503]
            aims.append(Aim(f"the {name} gets 429/503, {r.label}", "> 0", f"{limited}", limited > 0))
        if r.limiter:
            on, off = r.limiter["on"].p50, r.limiter["off"].p50
            aims.append(Aim(f"small authenticated GET p50, admission on vs off, {r.label}", "within 10 %",
                            f"{ms(on)} vs {ms(off)} ms", on <= off * 1.10))
    return aims


def run(ctx: Context) -> Result:
    budget = Budget.for_context(ctx)
    busy_before = machine_busy()
    machine = describe_machine(postgresql=pg_version(ctx.pg_server_url) if ctx.pg_server_url else None)
    runs: list[BackendRun] = []
    for label, database in _databases(ctx):
        with database as url:
            runs.append(bench_backend(label, url, budget))
    conditions = Conditions(busy_before, machine_busy())
    table, aims = _table(runs), _aims(runs)
    limiter = [r for r in runs if r.limiter]
    lim_text = "; ".join(f"{r.label}: on {ms(r.limiter['on'].p50)} ms, off {ms(r.limiter['off'].p50)} ms "
                         f"(p50 of {budget.rounds} alternating rounds each)" for r in limiter)
    console = "\n\n".join(["\n".join(f"{k}: {v}" for k, v in machine.lines()) + f"\nConditions: {conditions.text()}",
                           table.text(), "Admission on/off, small authenticated GET: " + lim_text,
                           aims_table(aims).text()])
    missed = [a for a in aims if not a.met]
    md = "\n".join([
        "## Admission (one client must not starve the others)",
        "",
        "Generated by `make bench` (`python -m bench admission`). One `hexagone up` process per database, "
        f"{budget.instances:,} RUNNING instances in one customer project. In the same run: `/v1/health` and "
        "the operator's small authenticated GET (`GET /v1/projects/{id}`), each measured for "
        f"{budget.seconds / 2:g} s by one keep-alive client from 127.0.0.1, first alone, then while "
        f"{FLOOD} connections from {FLOOD_SOURCE} flood the server with `GET /v1/instances?limit=1000` (the "
        "customer's token), then with wrong-password logins for unknown names. Flooding connections retry "
        "at once after a 429/503 (they ignore `Retry-After`). \"Admission on/off\": the same small GET on two "
        "fresh SQLite servers, one started with `HEXAGONE_ADMISSION_ENABLED=false`, measured in "
        f"{budget.rounds} alternating rounds of {budget.round_seconds:g} s.",
        "",
        "### Machine",
        "",
        machine_markdown(machine),
        f"- **Conditions:** {conditions.text()}. The machine is shared with other engineers' builds and "
        "tests: figures taken while they run are noisy (the flood phases most).",
        "",
        "### Health and another client, quiet and under floods",
        "",
        table.markdown(),
        "",
        "Admission on/off, small authenticated GET: " + (lim_text or "not measured") + ".",
        "",
        "### Aims",
        "",
        aims_table(aims).markdown(),
        "",
        ("**Missed on this run:** " + "; ".join(f"{a.what} ({a.measured}, aim {a.target})" for a in missed) + "."
         if missed else "Every aim was met on this run."),
    ])
    return Result(console, md)


def _databases(ctx: Context) -> Iterator[tuple[str, AbstractContextManager[str]]]:
    yield "SQLite", nullcontext("")
    if ctx.pg_server_url:
        yield "PostgreSQL", fresh_pg_database(ctx.pg_server_url)
