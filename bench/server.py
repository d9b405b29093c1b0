"""A real control-plane process for benchmarks: ``hexagone up`` on 127.0.0.1, a free port, a fresh
data directory, and optionally a fresh PostgreSQL database created for the run and dropped after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.client import Http

ADMIN_PASSWORD = "bench-operator-passphrase-2026"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m hexagone.main up`` as a child process; ``pid`` is the server itself (uvicorn
    with one worker serves in that process). Its log goes to ``<data_dir>/server.log``. It runs in
    its own process group, stopped as a whole, so nothing it starts outlives the benchmark. The
    local compute agent is off unless ``agent`` is true (it would add its own requests)."""

    def __init__(self, data_dir: Path, database_url: str = "", env: dict[str, str] | None = None,
                 agent: bool = False,
                 module: tuple[str, ...] = ("hexagone.main", "up", "--host", "127.0.0.1", "--port")) -> None:
        """``module``: what ``python -m`` runs, the port appended (default: ``hexagone up``)."""
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = {"HEXAGONE_LOCAL_AGENT": "true" if agent else "false", **(env or {})}
        self.module = module
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
        env.update({
            "HEXAGONE_DATA_DIR": str(self.data_dir), "HEXAGONE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "HEXAGONE_LOG_LEVEL": "WARNING",
        })
        root = str(Path(__file__).resolve().parent.parent)  # so ``python -m bench.floor`` resolves
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        if self.database_url:
            env["HEXAGONE_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *self.module, str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with Http(self.url) as http:
                    if http.request("GET", "/v1/health")[0] == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not answer /v1/health within {timeout} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        """Stop the server and whatever it started (its process group, created by ``start``)."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        time.sleep(0.2)  # children of the group get the signal too; let them go
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def temp_data_dir(prefix: str = "hexagone-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        yield Path(d)


def pg_version(server_url: str) -> str:
    engine = create_engine(server_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


@contextmanager
def fresh_pg_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``server_url``; dropped afterwards."""
    name = f"hx_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server_url.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
