"""A region to break: its own PostgreSQL, the API (`hexagone up`) and a compute agent (fake driver)
as real processes, a bounded load of clients that retry as a careful client does, and a probe."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from tests.live import free_port

ADMIN_PASSWORD = "fault-operator-2026"
PASSWORD = "a-long-enough-passphrase"


def _pg_bin() -> Path | None:
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return dirs[-1] if dirs else None


class PrivatePostgres:
    """A PostgreSQL server of this test alone (own port, own data directory), which the test may
    stop and start: never the suite's shared one."""

    def __init__(self) -> None:
        binaries = _pg_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL binaries not found (scripts/setup.sh installs them)")
        self.bin = binaries
        self.port = free_port()
        # Outside pytest's tmp dir: the postgres system user must reach it (pytest's is mode 0700).
        self.root = Path(f"/tmp/hexagone-faults-pg-{uuid.uuid4().hex[:8]}")
        self.data = self.root / "data"
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.data, "postgres")
        self.data.chmod(0o700)
        self._as_pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_pg(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._as_pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                    "-o", opts, "start")

    def stop(self) -> None:
        self._as_pg("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", "fast", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class SmallDisk:
    """A tiny tmpfs as the API's data directory (root only), which the test can fill."""

    def __init__(self, path: Path, size_mb: int = 48) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.mounted = os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)], capture_output=True
        ).returncode == 0
        self.ballast = path / "ballast"

    def fill(self) -> None:
        chunk = b"\0" * (1 << 20)
        with self.ballast.open("wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(chunk)
                f.flush()

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
    env.update(extra)
    return env


@dataclass
class Region:
    tmp: Path
    pg: PrivatePostgres
    disk: SmallDisk
    port: int = field(default_factory=free_port)
    api: subprocess.Popen[bytes] | None = None
    agent: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def agent_dir(self) -> Path:
        return self.tmp / "agent"

    @property
    def api_log(self) -> Path:
        return self.tmp / "api.log"

    def start_api(self, timeout: float = 60.0) -> None:
        env = _env({
            "HEXAGONE_DATA_DIR": str(self.disk.path), "HEXAGONE_DATABASE_URL": self.pg.url,
            "HEXAGONE_ADMIN_PASSWORD": ADMIN_PASSWORD, "HEXAGONE_LOCAL_AGENT": "false",
            "HEXAGONE_ARGON2_TIME_COST": "1", "HEXAGONE_ARGON2_MEMORY_KIB": "8192", "HEXAGONE_ARGON2_PARALLELISM": "1",
            "HEXAGONE_SINGLE_MACHINE": "true",
        })
        with self.api_log.open("ab") as out:
            self.api = subprocess.Popen([sys.executable, "-m", "hexagone.main", "up", "--port", str(self.port)],
                                        env=env, cwd=self.tmp, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.api is not None and self.api.poll() is not None:
                raise RuntimeError(f"the API exited with {self.api.returncode}:\n{self.api_log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return time.monotonic() - start
            time.sleep(0.1)
        raise RuntimeError(f"the region did not become healthy within {timeout} s:\n"
                           f"{self.api_log.read_text()[-3000:]}")

    def start_agent(self, join_token: str | None = None) -> None:
        env = _env({"HEXAGONE_JOIN_TOKEN": join_token} if join_token else {})
        with (self.tmp / "agent.log").open("ab") as out:
            self.agent = subprocess.Popen(
                [sys.executable, "-m", "hexagone.main", "agent", "--url", self.url, "--state-dir", str(self.agent_dir),
                 "--name", "fault-host", "--driver", "fake"],
                env=env, cwd=self.tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    @staticmethod
    def kill(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        for proc in (self.agent, self.api):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill(proc)

    def guests(self) -> set[str]:
        """The guests the fake hypervisor runs (its state file outlives the agent)."""
        path = self.agent_dir / "fake-instances.json"
        return {g["spec"]["instance_id"] for g in json.loads(path.read_text())} if path.exists() else set()

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = create_engine(self.pg.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query), params).all())
        finally:
            engine.dispose()


@dataclass
class Load:
    """A few clients creating and deleting instances at a bounded pace. Every create carries an
    Idempotency-Key and is retried with it until acknowledged (202); every delete until 202 or 404.
    What was acknowledged is what the region must keep."""

    url: str
    token: str
    body: dict[str, Any]
    workers: int = 3
    alive_max: int = 6
    acked_creates: dict[str, str] = field(default_factory=dict)  # idempotency key (= name) -> id
    acked_deletes: set[str] = field(default_factory=set)
    acked_at: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _run: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _idle: list[threading.Event] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for n in range(self.workers):
            idle = threading.Event()
            self._idle.append(idle)
            t = threading.Thread(target=self._work, args=(n, idle), daemon=True)
            self._threads.append(t)
            t.start()
        self.resume()

    def resume(self) -> None:
        self._run.set()

    def pause(self) -> None:
        self._run.clear()
        for idle in self._idle:
            idle.wait(120)

    def stop(self) -> None:
        self._stop.set()
        self._run.set()
        for t in self._threads:
            t.join(30)

    def _ack(self) -> None:
        with self._lock:
            self.acked_at.append(time.monotonic())

    def _retrying(self, c: httpx.Client, method: str, path: str, ok: tuple[int, ...], **kw: Any) -> httpx.Response:
        while not self._stop.is_set():
            try:
                r = c.request(method, path, **kw)
            except httpx.HTTPError:  # reset, refused, timed out: the outcome is unknown, retry
                time.sleep(0.2)
                continue
            if r.status_code in ok:
                return r
            if r.status_code < 500 and r.status_code != 429:
                self.failures.append(f"{method} {path}: {r.status_code} {r.text[:300]}")
                return r
            time.sleep(min(float(r.headers.get("Retry-After", "1")), 2.0) if r.status_code == 503 else 0.2)
        raise RuntimeError("stopped")

    def _work(self, n: int, idle: threading.Event) -> None:
        rng = random.Random(n)
        mine: list[str] = []
        counter = itertools.count(1)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as c:
            while not self._stop.is_set():
                if not self._run.is_set():
                    idle.set()
                    self._run.wait()
                    continue
                idle.clear()
                with contextlib.suppress(RuntimeError):
                    if mine and (len(mine) >= self.alive_max or rng.random() < 0.4):
                        iid = mine.pop(rng.randrange(len(mine)))
                        r = self._retrying(c, "DELETE", f"/v1/instances/{iid}", (202, 404))
                        if r.status_code in (202, 404):
                            self.acked_deletes.add(iid)
                            self._ack()
                    else:
                        key = f"w{n}-{next(counter)}"
                        r = self._retrying(c, "POST", "/v1/instances", (202,), json={**self.body, "name": key},
                                           headers={"Idempotency-Key": key})
                        if r.status_code == 202:
                            self.acked_creates[key] = r.json()["id"]
                            mine.append(r.json()["id"])
                            self._ack()
                time.sleep(0.1)
        idle.set()

    def wait_ack(self, after: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not (self.acked_at and self.acked_at[-1] > after):
            if time.monotonic() > deadline:
                raise AssertionError(f"no write acknowledged within {timeout} s")
            time.sleep(0.05)

    def write_gap(self, since: float) -> float:
        """The longest time without an acknowledged operation since ``since`` (counted from the last
        acknowledgement before it)."""
        with self._lock:
            before = [t for t in self.acked_at if t < since]
            times = before[-1:] + [t for t in self.acked_at if t >= since]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


@dataclass
class Probe:
    """GET /v1/health every 0.1 s; remembers when it failed."""

    url: str
    failed_at: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Probe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ok = httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                ok = False
            if not ok:
                self.failed_at.append(time.monotonic())
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def unavailable(self, since: float) -> float:
        """Seconds between the first and the last failed probe since ``since`` (0: never failed)."""
        failed = [t for t in self.failed_at if t >= since]
        return failed[-1] - failed[0] + 0.1 if failed else 0.0


@contextlib.contextmanager
def running(tmp: Path) -> Iterator[Region]:
    pg = PrivatePostgres()
    disk = SmallDisk(tmp / "data")
    region = Region(tmp, pg, disk)
    try:
        pg.start()
        region.start_api()
        yield region
    finally:
        region.stop()
        disk.unmount()
        pg.destroy()
