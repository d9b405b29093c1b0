"""The tables, aims and Markdown of the compute section (figures come from ``bench.compute``)."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from bench import Result
from bench.compute import CLIENTS, POLL, BackendRun, Budget
from bench.compute_qemu import QemuResult
from bench.framework import Machine, Stats, ms, rate
from bench.identity import Conditions
from bench.report import Aim, Table, aims_table, machine_markdown

NOVA = (
    "OpenStack Nova 34 with its fake driver, measured side by side on this machine kind (uwsgi, PostgreSQL, "
    "RabbitMQ), takes 1.1 s p50 / 2.0 s p95 from POST to ACTIVE and sustains 1.3 boot+delete cycles per "
    "second; published large deployments take 4–13 s; Firecracker boots a guest in 125 ms."
)
NOVA_P50, NOVA_P95, NOVA_CYCLES, FIRECRACKER = 1.1, 2.0, 1.3, 0.125


@dataclass(frozen=True)
class Figures:
    machine: Machine
    conditions: Conditions
    budget: Budget
    pure: dict[int, Stats]
    runs: list[BackendRun]
    qemu: QemuResult
    skipped_pg: bool


def _rows(b: Budget) -> list[tuple[str, str]]:
    small, large, inst = f"{b.small_hosts:,}", f"{b.large_hosts:,}", f"{b.small_hosts * b.instances_per_host:,}"
    return [
        ("post", "POST /v1/instances alone (202), 1 agent host"),
        ("running", f"create → RUNNING seen by the client (poll every {POLL * 1000:.0f} ms), fake driver, 1 agent"),
        ("running_server", "create → RUNNING as recorded by the server (launched_at − created_at)"),
        ("cycle", f"create → RUNNING → delete → gone cycle ({CLIENTS} clients); per s = cycles/s"),
        ("raw", f"POST + DELETE, not waiting for the agent ({CLIENTS} clients); per s = pairs/s"),
        ("views_small", f"one placement in-process ({small} hosts): SQL shortlist + scheduler.place"),
        ("views_large", f"one placement in-process ({large} hosts): SQL shortlist + scheduler.place"),
        ("api_small", f"POST /v1/instances with {small} hosts in the database"),
        ("api_large", f"POST /v1/instances with {large} hosts in the database"),
        ("list_op_100", f"GET /v1/instances page, limit=100, operator ({inst} instances)"),
        ("list_op_1000", "GET /v1/instances page, limit=1000, operator"),
        ("list_cust_100", "GET /v1/instances page, limit=100, customer member"),
        ("list_cust_1000", "GET /v1/instances page, limit=1000, customer member"),
        ("show", "GET /v1/instances/{id}, customer member"),
        ("hosts_pages", f"GET /v1/hosts page, limit=1000, operator ({large} hosts)"),
    ]


def _latency_table(f: Figures) -> Table:
    table = Table(["measurement", "database", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "per s"])
    for n, s in f.pure.items():
        table.add(
            f"scheduler.place, pure, {n:,} host snapshots",
            "-",
            str(s.n),
            ms(s.p50),
            ms(s.p95),
            ms(s.p99),
            ms(s.max),
            rate(s.per_second),
        )
    for key, title in _rows(f.budget):
        for r in f.runs:
            s = r.stats[key]
            table.add(title, r.label, str(s.n), ms(s.p50), ms(s.p95), ms(s.p99), ms(s.max), rate(s.per_second))
    return table


def _memory_table(f: Figures) -> Table:
    b = f.budget
    table = Table(
        [
            "process",
            "database",
            "idle",
            "after the fake-agent runs",
            f"{b.small_hosts:,} hosts + {b.small_hosts * b.instances_per_host:,} instances",
            f"{b.large_hosts:,} hosts",
            "peak (VmHWM)",
        ]
    )
    for r in f.runs:
        m = r.rss
        table.add(
            "control plane (`hexagone up`)",
            r.label,
            f"{m['server_idle']:.0f} MB",
            f"{m['server_after_agent']:.0f} MB",
            f"{m['server_scale']:.0f} MB",
            f"{m['server_large']:.0f} MB",
            f"{m['server_peak']:.0f} MB",
        )
        table.add(
            f"agent (`hexagone agent --driver fake`), {b.agent_instances} instances",
            r.label,
            f"{m['agent_idle']:.0f} MB",
            f"{m['agent_loaded']:.0f} MB",
            "-",
            "-",
            f"{m['agent_peak']:.0f} MB",
        )
    return table


def _qemu_table(q: QemuResult) -> Table:
    table = Table(["run", "accel", "POST → RUNNING (client)", "POST → RUNNING (server)", "POST → guest ready"])
    for i, r in enumerate(q.runs, 1):
        table.add(str(i), r.accel, f"{r.to_running:.2f} s", f"{r.server_running:.2f} s", f"{r.to_ready:.2f} s")
    return table


def _aims(f: Figures) -> list[Aim]:
    large = f.budget.large_hosts
    pure = f.pure[large]
    aims = [
        Aim(f"scheduler.place over all {large:,} snapshots p99 (pure; the slow path only)", "≤ 20 ms",
            f"{ms(pure.p99)} ms", pure.p99 <= 0.020)
    ]
    for r in f.runs:
        s, m = r.stats, r.rss
        raw_calls = 2 * s["raw"].per_second
        pages = [s[k] for k in ("list_op_100", "list_op_1000", "list_cust_100", "list_cust_1000")]
        worst = max(p.p95 for p in pages)
        aims += [
            Aim(
                f"create → RUNNING p50, fake driver, {r.label}",
                "≤ 50 ms",
                f"{ms(s['running'].p50)} ms",
                s["running"].p50 <= 0.050,
            ),
            Aim(
                f"create→RUNNING→delete→gone cycles, {r.label}",
                "≥ 50/s",
                f"{rate(s['cycle'].per_second)}/s",
                s["cycle"].per_second >= 50,
            ),
            Aim(f"raw API create+delete calls, {r.label}", "≥ 50/s", f"{rate(raw_calls)}/s", raw_calls >= 50),
            Aim(
                f"placement among {large:,} hosts p99, in-process with the database, {r.label}",
                "≤ 20 ms",
                f"{ms(s['views_large'].p99)} ms",
                s["views_large"].p99 <= 0.020,
            ),
            Aim(
                f"API create among {large:,} hosts p99, end to end, {r.label}",
                "≤ 20 ms",
                f"{ms(s['api_large'].p99)} ms",
                s["api_large"].p99 <= 0.020,
            ),
            Aim(
                f"control-plane RSS, {f.budget.small_hosts:,} hosts + "
                f"{f.budget.small_hosts * f.budget.instances_per_host:,} instances, {r.label}",
                "≤ 500 MB",
                f"{m['server_scale']:.0f} MB",
                m["server_scale"] <= 500,
            ),
            Aim(
                f"agent RSS with {f.budget.agent_instances} instances, {r.label}",
                "≤ 80 MB",
                f"{m['agent_loaded']:.0f} MB",
                m["agent_loaded"] <= 80,
            ),
            Aim(f"instance list page p95 (worst of the four), {r.label}", "≤ 50 ms", f"{ms(worst)} ms", worst <= 0.050),
        ]
    return aims


def _nova_table(f: Figures) -> Table:
    table = Table(["", "Nova 34 fake driver", *[f"Hexagone {r.label}, fake driver" for r in f.runs]])
    table.add("POST → running, p50", f"{NOVA_P50:.1f} s", *[f"{ms(r.stats['running'].p50)} ms" for r in f.runs])
    table.add("POST → running, p95", f"{NOVA_P95:.1f} s", *[f"{ms(r.stats['running'].p95)} ms" for r in f.runs])
    table.add("boot+delete cycles per second", rate(NOVA_CYCLES), *[rate(r.stats["cycle"].per_second) for r in f.runs])
    return table


def _qemu_text(q: QemuResult) -> list[str]:
    if q.skipped:
        return [f"Not measured on this run: {q.skipped}."]
    if not q.runs:
        return ["No run completed."]
    accel = ", ".join(sorted({r.accel for r in q.runs}))
    return [
        _qemu_table(q).markdown(),
        "",
        f"Accelerator: {accel}. Median of {len(q.runs)} runs: POST → RUNNING "
        f"{median(r.to_running for r in q.runs):.2f} s, POST → guest ready {median(r.to_ready for r in q.runs):.2f} s "
        f"(Firecracker: {FIRECRACKER * 1000:.0f} ms to boot a guest; published large Nova deployments: 4–13 s to "
        "ACTIVE). RUNNING means the QEMU process is up and reported; guest ready means the guest printed its "
        "ready marker on the serial console, seen by the agent's next round (≤ 1 s apart while an instance is "
        "in transition).",
    ]


def render(f: Figures) -> Result:
    latency, memory, aims = _latency_table(f), _memory_table(f), _aims(f)
    nova = _nova_table(f)
    missed = [a for a in aims if not a.met]
    b = f.budget
    md = [
        "## Compute (control plane, agents, placement)",
        "",
        "Generated by `make bench` (`python -m bench compute`). A real control plane (`hexagone up`, one uvicorn "
        "worker, local agent off) on 127.0.0.1 with a fresh data directory per database; compute agents are real "
        "`hexagone agent --driver fake` processes joined with tokens from `POST /v1/hosts/join-tokens`. The load "
        "generator is this Python process (keep-alive `http.client`, one connection per client thread), on the "
        "same two cores as the server and the agents. The fake driver boots nothing: these figures are the "
        "control plane's and the agent's own cost. Every create uses the `tiny` flavor and image.",
        "",
        f"Scale set-up (not timed): {b.small_hosts:,} then {b.large_hosts:,} hosts (32 vCPU, 128 GiB each) and "
        f"{b.small_hosts * b.instances_per_host:,} RUNNING instances ({b.instances_per_host} per host, in the "
        "customer's project) are inserted directly into the benchmark's database through `hexagone.db` models, "
        "not joined through the API; they have no agents, so the server runs with a heartbeat grace of one hour "
        "to keep them `up`. Creates among them stay BUILDING.",
        "",
        "### Machine",
        "",
        machine_markdown(f.machine),
        f"- **Conditions:** {f.conditions.text()}.",
        "",
        "### Latency and throughput",
        "",
        latency.markdown(),
        "",
        "### Memory (resident set size)",
        "",
        memory.markdown(),
        "",
        "### Real VMs through the whole stack (QEMU driver, SQLite)",
        "",
        *_qemu_text(f.qemu),
        "",
        "### Aims",
        "",
        aims_table(aims).markdown(),
        "",
        ("**Missed on this run:** " + "; ".join(f"{a.what} ({a.measured}, aim {a.target})" for a in missed) + ".")
        if missed
        else "Every aim was met on this run.",
        "",
        "### Comparison",
        "",
        NOVA,
        "",
        nova.markdown(),
    ]
    if f.skipped_pg:
        md += ["", "PostgreSQL was not measured: HEXAGONE_TEST_PG_URL was not set (run `make bench`)."]
    console = "\n\n".join(
        [
            "\n".join(f"{k}: {v}" for k, v in f.machine.lines()) + f"\nConditions: {f.conditions.text()}",
            latency.text(),
            memory.text(),
            "\n".join(_qemu_text(f.qemu)),
            aims_table(aims).text(),
            NOVA,
            nova.text(),
        ]
    )
    return Result(console, "\n".join(md))
