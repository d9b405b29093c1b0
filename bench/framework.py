"""The measuring half of ``make bench``: latency statistics, timing loops, resident memory and the
description of the machine the figures were taken on.

Everything here is plain standard library so a benchmark section measures Hexagone, not its harness.
Times are seconds internally and milliseconds when shown.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# --- statistics ------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between closest ranks (NumPy's
    default), so p50 of an even-sized sample is the mean of its two middle values."""
    if not samples:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Stats:
    """Latencies of ``n`` operations (seconds) completed in ``wall`` seconds by ``clients`` callers."""

    n: int
    wall: float
    clients: int
    p50: float
    p95: float
    p99: float
    mean: float
    min: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float], wall: float, clients: int = 1) -> Stats:
        if wall <= 0:
            raise ValueError("wall time must be positive")
        return cls(
            n=len(samples), wall=wall, clients=clients,
            p50=percentile(samples, 50), p95=percentile(samples, 95), p99=percentile(samples, 99),
            mean=sum(samples) / len(samples), min=min(samples), max=max(samples),
        )

    @property
    def per_second(self) -> float:
        """Completed operations per second of wall time, all callers together."""
        return self.n / self.wall


def ms(seconds: float) -> str:
    """A duration for people: three significant figures in milliseconds."""
    value = seconds * 1000
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.1f}"


# --- timing loops ----------------------------------------------------------------------------------


def measure(
    op: Callable[[], object], *, count: int, seconds: float | None = None, warmup: int = 0
) -> Stats:
    """Call ``op`` ``warmup`` times untimed, then up to ``count`` times (stopping early once
    ``seconds`` have passed, but never before one timed call) and return the latencies."""

    def timed() -> float:
        t0 = time.perf_counter()
        op()
        return time.perf_counter() - t0

    return collect(timed, count=count, seconds=seconds, warmup=warmup)


def collect(
    timed_op: Callable[[], float], *, count: int, seconds: float | None = None, warmup: int = 0
) -> Stats:
    """Like ``measure``, for an op that times itself and returns the seconds that count (so set-up
    and tear-down around the measured part stay out of the latency, but not out of the rate)."""
    for _ in range(warmup):
        timed_op()
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds if seconds is not None else math.inf
    for _ in range(count):
        samples.append(timed_op())
        if clock() >= deadline:
            break
    return Stats.of(samples, clock() - start)


def measure_concurrent(
    make_op: Callable[[int], Callable[[], object]], *, clients: int, count: int, seconds: float | None = None,
    warmup: int = 0,
) -> Stats:
    """Run ``clients`` threads, each with its own ``make_op(i)`` (e.g. its own keep-alive
    connection), together: each warms up, waits for the others, then calls its op until ``count``
    calls in total were made or ``seconds`` passed. The first error of any thread is re-raised."""
    ops = [make_op(i) for i in range(clients)]
    samples: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    remaining = [count]
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    clock = time.perf_counter
    deadline = [math.inf]

    def worker(i: int) -> None:
        try:
            for _ in range(warmup):
                ops[i]()
        except BaseException as exc:  # reported below, after the barrier releases everyone
            errors.append(exc)
        barrier.wait()
        while not errors:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            t0 = clock()
            try:
                ops[i]()
            except BaseException as exc:
                errors.append(exc)
                return
            t1 = clock()
            samples[i].append(t1 - t0)
            if t1 >= deadline[0]:
                return

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = clock()
    if seconds is not None:
        deadline[0] = start + seconds
    for t in threads:
        t.join()
    wall = clock() - start
    if errors:
        raise errors[0]
    return Stats.of([s for per in samples for s in per], wall, clients)


# --- memory ----------------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """The ``kB`` fields of /proc/PID/status (VmRSS, VmHWM, ...) in KiB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0])
    return fields


def rss_mb(pid: int) -> float:
    """Resident memory of a process now (VmRSS), in MB (10^6 bytes)."""
    return proc_status(pid)["VmRSS"] * 1024 / 1e6


def peak_rss_mb(pid: int) -> float:
    """Highest resident memory the process had so far (VmHWM), in MB (10^6 bytes)."""
    return proc_status(pid)["VmHWM"] * 1024 / 1e6


def machine_busy(seconds: float = 1.0) -> float:
    """Share of all cores (0–1) that were busy during ``seconds`` while the caller slept: what
    other processes took from the benchmark. From /proc/stat; 0.0 when unavailable."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields) - idle, sum(fields)

    try:
        busy0, total0 = sample()
        time.sleep(seconds)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


# --- machine ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    kernel: str
    os: str
    python: str
    sqlite: str
    postgresql: str | None
    date: str
    load: str = ""

    def lines(self) -> list[tuple[str, str]]:
        rows = [
            ("CPU", f"{self.cpu}, {self.cores} cores"), ("RAM", f"{self.ram_gib:.1f} GiB"),
            ("OS", f"{self.os}, Linux {self.kernel}"), ("Python", self.python), ("SQLite", self.sqlite),
        ]
        if self.postgresql:
            rows.append(("PostgreSQL", self.postgresql))
        rows.append(("Date", self.date))
        if self.load:
            rows.append(("Load average before the run (1, 5, 15 min)", self.load))
        return rows


def _cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine()


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def describe_machine(postgresql: str | None = None, now: dt.datetime | None = None) -> Machine:
    """What the figures were measured on; ``postgresql`` is the server version when one was used."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    when = now or dt.datetime.now(dt.UTC)
    return Machine(
        cpu=_cpu_model(cpuinfo), cores=os.cpu_count() or 1, ram_gib=mem_kib / 1024 / 1024,
        kernel=platform.release(), os=_os_name(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        sqlite=sqlite3.sqlite_version, postgresql=postgresql,
        date=when.strftime("%Y-%m-%d %H:%M UTC"), load=_load_average(),
    )


def _load_average() -> str:
    """Other work on the machine skews every figure; the load average says how much there was."""
    try:
        return ", ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""
