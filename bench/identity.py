"""Identity section: password login, bearer-token and API-key authentication, a small authenticated
GET, and the control plane's memory — against a real ``hexagone up`` process on 127.0.0.1, on
SQLite and (when a server is given) PostgreSQL, with the production argon2id parameters.

Per database: start a fresh server, read its idle RSS, log in as the operator administrator, create
a project and an API key, then time each request kind with one keep-alive client and with
``CLIENTS`` concurrent ones, time ``hexagone.identity.auth.authenticate`` in this process against the
same database, and read the RSS again. Bare argon2id verifications are timed in-process alone, then
alternating with the logins.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher, Type

from bench import Context, Result
from bench.client import Http, HttpError
from bench.framework import (
    Stats,
    collect,
    describe_machine,
    machine_busy,
    measure,
    measure_concurrent,
    ms,
    peak_rss_mb,
    rate,
    rss_mb,
)
from bench.report import Aim, Table, aims_table, machine_markdown
from bench.server import ADMIN_PASSWORD, ServerProcess, fresh_pg_database, pg_version, temp_data_dir

CLIENTS = 4
#: this section measures what a login costs, so it logs in far more often than one address may
NO_AUTH_LIMITS = {"HEXAGONE_AUTH_RATE_PER_SOURCE": "0", "HEXAGONE_AUTH_RATE_PER_ACCOUNT": "0"}
KEYSTONE = ("Measured side by side on this machine kind, OpenStack Keystone 30 (uwsgi, PostgreSQL) issues "
            "a password token in 402 ms p50 (2.2/s) and validates one in 131 ms p50 (7/s).")
KEYSTONE_ISSUE_P50, KEYSTONE_ISSUE_RATE = 0.402, 2.2
KEYSTONE_VALIDATE_P50, KEYSTONE_VALIDATE_RATE = 0.131, 7.0


def production_argon2() -> tuple[int, int, int]:
    """(time cost, memory KiB, lanes): the defaults of ``Settings``, whatever the environment says."""
    from hexagone.settings import Settings

    fields = Settings.model_fields
    return (fields["argon2_time_cost"].default, fields["argon2_memory_kib"].default,
            fields["argon2_parallelism"].default)


@dataclass(frozen=True)
class Budget:
    """How much work each measurement does; ``quick`` is a smoke run of the whole section."""

    logins: int = 15
    concurrent_logins: int = 12
    requests: int = 20_000
    seconds: float = 2.5
    warmup: int = 200
    inprocess: int = 5_000
    argon2: int = 20

    @classmethod
    def for_context(cls, ctx: Context) -> Budget:
        if ctx.quick:
            return cls(logins=3, concurrent_logins=4, requests=300, seconds=0.5, warmup=20, inprocess=200,
                       argon2=3)
        return cls()


@dataclass
class BackendRun:
    label: str
    stats: dict[str, Stats] = field(default_factory=dict)
    rss_idle: float = 0.0
    rss_after: float = 0.0
    rss_peak: float = 0.0


ROWS: list[tuple[str, str]] = [
    ("argon2", "argon2id verify, in-process, alternating with the logins below"),
    ("health", "public GET /v1/health, no auth, SELECT 1 (1 client)"),
    ("login", "password login, POST /v1/auth/login (1 client)"),
    ("login_c", f"password login ({CLIENTS} clients)"),
    ("token", "bearer token, GET /v1/auth/whoami (1 client)"),
    ("token_c", f"bearer token, GET /v1/auth/whoami ({CLIENTS} clients)"),
    ("key", "API key, GET /v1/auth/whoami (1 client)"),
    ("key_c", f"API key, GET /v1/auth/whoami ({CLIENTS} clients)"),
    ("project", "GET /v1/projects/{id} with token (1 client)"),
    ("project_c", f"GET /v1/projects/{{id}} with token ({CLIENTS} clients)"),
    ("auth_token", "authenticate(token), in-process"),
    ("auth_key", "authenticate(API key), in-process"),
]


# --- measurements --------------------------------------------------------------------------------


def _argon2_verifier() -> Callable[[], object]:
    t, m, p = production_argon2()
    ph = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, type=Type.ID)
    stored = ph.hash(ADMIN_PASSWORD)
    return lambda: ph.verify(stored, ADMIN_PASSWORD)


def bench_argon2(budget: Budget) -> Stats:
    return measure(_argon2_verifier(), count=budget.argon2, warmup=1)


def bench_login(url: str, budget: Budget) -> tuple[Stats, Stats]:
    """(login, bare argon2id verification) timed alternately, one of each per round, so both see
    the same machine: the difference of their medians is our own cost, not a change of load."""
    verify, login = _argon2_verifier(), _login_op(url)(0)
    login()
    logins: list[float] = []
    verifies: list[float] = []
    deadline = time.monotonic() + budget.seconds * 4  # a loaded machine must not stretch the section
    for i in range(budget.logins):
        if i >= 5 and time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        verify()
        t1 = time.perf_counter()
        login()
        t2 = time.perf_counter()
        verifies.append(t1 - t0)
        logins.append(t2 - t1)
    return Stats.of(logins, sum(logins)), Stats.of(verifies, sum(verifies))


def _getter(url: str, path: str, headers: dict[str, str]) -> Callable[[int], Callable[[], object]]:
    """A factory of ops for ``measure_concurrent``: each client its own keep-alive connection."""

    def make(_i: int) -> Callable[[], object]:
        http = Http(url, headers)

        def op() -> None:
            status, body = http.request("GET", path)
            if status != 200:
                raise HttpError(f"GET {path}: {status} {body[:300]!r}")

        return op

    return make


def _login_op(url: str) -> Callable[[int], Callable[[], object]]:
    def make(_i: int) -> Callable[[], object]:
        http = Http(url)
        return lambda: http.call("POST", "/v1/auth/login", {"username": "admin", "password": ADMIN_PASSWORD},
                                 expect=201)

    return make


def _inprocess_authenticate(data_dir: Path, database_url: str, credential: str, budget: Budget) -> Stats:
    """``authenticate`` as a request runs it: a fresh read session per call (its set-up and
    rollback/close are outside the latency, inside the rate)."""
    from hexagone.audit.service import Actor
    from hexagone.bootstrap import build_runtime
    from hexagone.identity.auth import authenticate
    from hexagone.settings import Settings
    from hexagone.usecase import UseCase

    settings = Settings(data_dir=data_dir, database_url=database_url)
    rt = build_runtime(settings)
    try:
        def timed() -> float:
            session = rt.db.session(write=False)
            uc = UseCase(session=session, now=rt.clock.now(), settings=settings, hasher=rt.hasher,
                         actor=Actor(source_ip="127.0.0.1"))
            t0 = time.perf_counter()
            authenticate(uc, credential)
            elapsed = time.perf_counter() - t0
            session.rollback()
            session.close()
            return elapsed

        return collect(timed, count=budget.inprocess, seconds=budget.seconds, warmup=budget.warmup)
    finally:
        rt.db.dispose()


def bench_backend(label: str, database_url: str, budget: Budget) -> BackendRun:
    run = BackendRun(label)
    with temp_data_dir() as data_dir, ServerProcess(data_dir / "data", database_url, env=NO_AUTH_LIMITS) as server:
        time.sleep(1.0)  # let start-up settle before reading idle memory
        run.rss_idle = rss_mb(server.pid)
        url = server.url
        run.stats["login"], run.stats["argon2"] = bench_login(url, budget)
        run.stats["login_c"] = measure_concurrent(_login_op(url), clients=CLIENTS,
                                                  count=budget.concurrent_logins, seconds=budget.seconds * 4)

        with Http(url) as http:
            token = http.call("POST", "/v1/auth/login", {"username": "admin", "password": ADMIN_PASSWORD},
                              expect=201)["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        with Http(url, bearer) as http:
            root = http.call("GET", "/v1/auth/whoami")["organisation"]["id"]
            customer = http.call("POST", "/v1/organisations", {"parent_id": root, "kind": "customer",
                                                                "name": "bench-customer"}, expect=201)["id"]
            project = http.call("POST", "/v1/projects", {"org_id": customer, "name": "bench"},
                                expect=201)["id"]
            key = http.call("POST", "/v1/api-keys", {"name": "bench", "scope_type": "org", "scope_id": root,
                                                      "role": "reader"}, expect=201)["secret"]
        keyed = {"Authorization": f"Bearer {key}"}

        health = _getter(url, "/v1/health", {})
        run.stats["health"] = measure(health(0), count=budget.requests, seconds=budget.seconds,
                                      warmup=budget.warmup)
        for name, path, headers in [("token", "/v1/auth/whoami", bearer), ("key", "/v1/auth/whoami", keyed),
                                    ("project", f"/v1/projects/{project}", bearer)]:
            ops = _getter(url, path, headers)
            run.stats[name] = measure(ops(0), count=budget.requests, seconds=budget.seconds,
                                      warmup=budget.warmup)
            run.stats[name + "_c"] = measure_concurrent(
                ops, clients=CLIENTS, count=budget.requests, seconds=budget.seconds,
                warmup=budget.warmup // CLIENTS)

        run.stats["auth_token"] = _inprocess_authenticate(server.data_dir, database_url, token, budget)
        run.stats["auth_key"] = _inprocess_authenticate(server.data_dir, database_url, key, budget)
        time.sleep(0.5)
        run.rss_after = rss_mb(server.pid)
        run.rss_peak = peak_rss_mb(server.pid)
    return run


# --- report --------------------------------------------------------------------------------------------


def _aims(runs: list[BackendRun]) -> list[Aim]:
    aims: list[Aim] = []
    for r in runs:
        s = r.stats
        overhead = s["login"].p50 - s["argon2"].p50
        aims += [
            Aim(f"login overhead p50 (login − argon2id), {r.label}", "≤ 5 ms", f"{ms(overhead)} ms",
                overhead <= 0.005),
            Aim(f"authenticate(token) p50, {r.label}", "≤ 2 ms", f"{ms(s['auth_token'].p50)} ms",
                s["auth_token"].p50 <= 0.002),
            Aim(f"authenticate(token) rate, {r.label}", "≥ 1,000/s", f"{rate(s['auth_token'].per_second)}/s",
                s["auth_token"].per_second >= 1000),
            Aim(f"small authenticated GET p50, {r.label}", "≤ 3 ms", f"{ms(s['project'].p50)} ms",
                s["project"].p50 <= 0.003),
            Aim(f"RSS idle / after load, {r.label}", "≤ 150 MB", f"{r.rss_idle:.0f} / {r.rss_after:.0f} MB",
                max(r.rss_idle, r.rss_after) <= 150),
        ]
    return aims


def _latency_table(runs: list[BackendRun], argon: Stats, floor: Stats) -> Table:
    table = Table(["measurement", "database", "n", "p50 ms", "p95 ms", "p99 ms", "per s"])
    t, m, p = production_argon2()
    table.add(f"argon2id verify t={t} m={m // 1024} MiB p={p}, in-process, alone", "-", str(argon.n),
              ms(argon.p50), ms(argon.p95), ms(argon.p99), rate(argon.per_second))
    table.add("transport floor: uvicorn + bare ASGI app (1 client)", "-", str(floor.n), ms(floor.p50),
              ms(floor.p95), ms(floor.p99), rate(floor.per_second))
    for key, title in ROWS:
        for r in runs:
            s = r.stats[key]
            table.add(title, r.label, str(s.n), ms(s.p50), ms(s.p95), ms(s.p99), rate(s.per_second))
    return table


def _memory_table(runs: list[BackendRun]) -> Table:
    table = Table(["database", "RSS idle after start-up", "RSS after the load", "peak RSS (VmHWM)"])
    for r in runs:
        table.add(r.label, f"{r.rss_idle:.0f} MB", f"{r.rss_after:.0f} MB", f"{r.rss_peak:.0f} MB")
    return table


def _keystone_table(runs: list[BackendRun]) -> Table:
    table = Table(["operation", "Keystone 30 p50", "Keystone 30 /s",
                   *[f"Hexagone {r.label} p50" for r in runs], *[f"Hexagone {r.label} /s" for r in runs]])
    table.add("issue a password token", ms(KEYSTONE_ISSUE_P50) + " ms", rate(KEYSTONE_ISSUE_RATE),
              *[ms(r.stats["login"].p50) + " ms" for r in runs],
              *[rate(max(r.stats["login"].per_second, r.stats["login_c"].per_second)) for r in runs])
    table.add("validate a token", ms(KEYSTONE_VALIDATE_P50) + " ms", rate(KEYSTONE_VALIDATE_RATE),
              *[ms(r.stats["token"].p50) + " ms" for r in runs],
              *[rate(max(r.stats["token"].per_second, r.stats["token_c"].per_second)) for r in runs])
    return table


@dataclass(frozen=True)
class Conditions:
    """How busy the machine was without us, just before and just after the section."""

    busy_before: float
    busy_after: float

    def text(self) -> str:
        return (f"other processes kept {self.busy_before:.0%} of the CPU busy just before the run and "
                f"{self.busy_after:.0%} just after it")


def _breakdown(r: BackendRun, floor: Stats) -> str:
    s = r.stats
    return (f"{r.label}: of the small GET's {ms(s['project'].p50)} ms p50, the transport floor "
            f"(client, socket, uvicorn) is {ms(floor.p50)} ms; a public request through FastAPI, the thread "
            f"pool and a read session (`/v1/health`) costs {ms(s['health'].p50)} ms; `authenticate` alone "
            f"costs {ms(s['auth_token'].p50)} ms in-process (API key: {ms(s['auth_key'].p50)} ms).")


def _markdown(machine_md: str, conditions: Conditions, latency: Table, memory: Table, keystone: Table,
              aims: list[Aim], floor: Stats, runs: list[BackendRun], skipped_pg: bool) -> str:
    t, m, p = production_argon2()
    missed = [a for a in aims if not a.met]
    lines = [
        "## Identity (control-plane foundation)",
        "",
        "Generated by `make bench` (`python -m bench identity`). A real control plane (`hexagone up`, one "
        "uvicorn worker) on 127.0.0.1 with a fresh data directory per database; the load generator is a "
        "separate Python process using keep-alive HTTP/1.1 connections (`http.client`, one per client "
        "thread) on the same machine, so client and server share the cores. Latencies are per request as "
        "the client sees them; \"per s\" is requests completed per second of wall time, all clients "
        f"together. Password hashing uses the production argon2id parameters (t={t}, m={m // 1024} MiB, "
        f"p={p}); logins alternate with a bare in-process argon2id verification so that \"login overhead\" "
        "(login p50 − argon2id p50) compares the two under the same load. In-process `authenticate` opens "
        "a fresh read session per call, as a request does; its latency excludes the session's rollback and "
        "close, its rate includes them.",
        "",
        "### Machine",
        "",
        machine_md,
        f"- **Conditions:** {conditions.text()}.",
        "",
        "### Latency and throughput",
        "",
        latency.markdown(),
        "",
        *[f"- {_breakdown(r, floor)}" for r in runs],
        "",
        "### Memory of the control-plane process",
        "",
        memory.markdown(),
        "",
        "The peak is reached during concurrent logins: each argon2id verification holds its "
        f"{m // 1024} MiB of memory while it runs.",
        "",
        "### Aims",
        "",
        aims_table(aims).markdown(),
        "",
    ]
    if missed:
        lines += ["**Missed on this run:** " + "; ".join(f"{a.what} ({a.measured}, aim {a.target})"
                                                      for a in missed) + ".", ""]
    else:
        lines += ["Every aim was met on this run.", ""]
    lines += [
        "### Comparison",
        "",
        KEYSTONE,
        "",
        keystone.markdown(),
        "",
        "Hexagone's token validation here is the whoami request, which authenticates and also reads the "
        f"user and organisation; \"/s\" is the better of one and {CLIENTS} clients.",
    ]
    if skipped_pg:
        lines += ["", "PostgreSQL was not measured: HEXAGONE_TEST_PG_URL was not set (run `make bench`)."]
    return "\n".join(lines)


def bench_floor(budget: Budget) -> Stats:
    """One client against uvicorn serving a bare ASGI app (``bench.floor``)."""
    with temp_data_dir() as data_dir, ServerProcess(data_dir, module=("bench.floor",)) as server:
        op = _getter(server.url, "/", {})(0)
        return measure(op, count=budget.requests, seconds=budget.seconds, warmup=budget.warmup)


def _databases(ctx: Context) -> Iterator[tuple[str, AbstractContextManager[str]]]:
    yield "SQLite", nullcontext("")
    if ctx.pg_server_url:
        yield "PostgreSQL", fresh_pg_database(ctx.pg_server_url)


def run(ctx: Context) -> Result:
    budget = Budget.for_context(ctx)
    busy_before = machine_busy()
    machine = describe_machine(postgresql=pg_version(ctx.pg_server_url) if ctx.pg_server_url else None)
    argon = bench_argon2(budget)
    print(f"argon2id verify p50 {ms(argon.p50)} ms", flush=True)
    floor = bench_floor(budget)
    runs: list[BackendRun] = []
    for label, database in _databases(ctx):
        with database as url:
            print(f"{label}: measuring…", flush=True)
            runs.append(bench_backend(label, url, budget))
    conditions = Conditions(busy_before, machine_busy())
    latency, memory, keystone = _latency_table(runs, argon, floor), _memory_table(runs), _keystone_table(runs)
    aims = _aims(runs)
    console = "\n\n".join([
        "\n".join(f"{k}: {v}" for k, v in machine.lines()) + f"\nConditions: {conditions.text()}",
        latency.text(), "\n".join(_breakdown(r, floor) for r in runs), memory.text(),
        aims_table(aims).text(), KEYSTONE, keystone.text(),
    ])
    return Result(console, _markdown(machine_markdown(machine), conditions, latency, memory, keystone, aims,
                                     floor, runs, skipped_pg=not ctx.pg_server_url))
