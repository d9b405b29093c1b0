"""A real ``hexagone up`` server in a subprocess, and the CLI run as subprocesses against it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: The ``hexagone`` console script (``hexagone.main``), the real entry point.
ENTRY_POINT = [shutil.which("hexagone", path=str(Path(sys.executable).parent)) or "hexagone"]
#: The same Typer app without the server commands: ``hexagone.main`` imports the whole server stack
#: (FastAPI, SQLAlchemy, uvicorn) at start-up, about 2 s per call on this machine, so most steps use this.
CLIENT_ONLY = [sys.executable, "-m", "hexagone.cli"]
CLEARED_ENV = ("HEXAGONE_PROFILE", "HEXAGONE_PASSWORD", "HEXAGONE_OUTPUT", "COLUMNS", "HEXAGONE_CONFIG")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def db_path(self) -> Path:
        return self.data_dir / "hexagone.db"


def start_server(tmp: Path, admin_password: str, timeout: float = 90.0) -> Server:
    port = free_port()
    data_dir = tmp / "data"
    log = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
    env.update(
        {
            "HEXAGONE_DATA_DIR": str(data_dir),
            "HEXAGONE_ADMIN_PASSWORD": admin_password,
            "HEXAGONE_ARGON2_TIME_COST": "1",
            "HEXAGONE_ARGON2_MEMORY_KIB": "8192",
            "HEXAGONE_ARGON2_PARALLELISM": "1",
            "HEXAGONE_LOCAL_AGENT": "false",  # no compute here: no image build, no agent process
        }
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*ENTRY_POINT, "up", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown can end any child it started
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hexagone up exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return Server(url, data_dir, proc, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"hexagone up did not answer /v1/health within {timeout} s:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server and wait for it; then end whatever is left in its process group."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    """Runs ``hexagone`` commands with their own configuration directory; remembers every output."""

    config_dir: Path
    outputs: list[str] = field(default_factory=list)

    def run(
        self,
        *args: str,
        profile: str | None = None,
        stdin: str | None = None,
        expect: int | None = 0,
        env: dict[str, str] | None = None,
        entry: list[str] | None = None,
    ) -> Result:
        full_env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
        full_env.update(
            {"HEXAGONE_CONFIG_DIR": str(self.config_dir), "HOME": str(self.config_dir.parent), **(env or {})}
        )
        argv = [*(entry or CLIENT_ONLY), *(["--profile", profile] if profile else []), *args]
        proc = subprocess.run(
            argv, input=stdin or "", capture_output=True, text=True, env=full_env, timeout=60
        )
        result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        self.outputs += [proc.stdout, proc.stderr]
        if expect is not None:
            assert proc.returncode == expect, (
                f"hexagone {' '.join(args)} exited {proc.returncode}, expected {expect}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return self.run(*args, "--output", "json", **kw).json()

    def login(self, url: str, username: str, password: str, profile: str, *extra: str, **kw: Any) -> Result:
        return self.run(
            "login",
            url,
            "--username",
            username,
            "--password-stdin",
            *extra,
            profile=profile,
            stdin=password + "\n",
            **kw,
        )
