"""A real uvicorn server in a thread, and agents in threads, for tests that need HTTP between parts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hexagone.agent.loop import Agent, AgentConfig
from hexagone.bootstrap import Runtime, build_asgi, local_join_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(rt: Runtime) -> Iterator[str]:
    port = free_port()
    rt.settings.port = port
    config = uvicorn.Config(build_asgi(rt), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


class AgentThread:
    """An agent running its loop in a thread until stopped (the driver object outlives it, as a
    hypervisor outlives its agent)."""

    def __init__(self, rt: Runtime, url: str, state_dir: Path, driver: Any, name: str = "host-1",
                 network_cidr: str | None = None) -> None:
        self.cfg = AgentConfig(url=url, state_dir=state_dir, name=name, join_token=None,
                               heartbeat_interval=1.0, poll_wait=2.0, busy_poll=0.2, network_cidr=network_cidr)
        if not (state_dir / "credential").exists():
            self.cfg.join_token = local_join_token(rt)
        self.agent = Agent(self.cfg, driver)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[BaseException] = []

    def _run(self) -> None:
        try:
            self.agent.ensure_joined()
            self.agent.step(wait=0)
            self._ready.set()
            while not self._stop.is_set():
                self.agent.step(wait=0.2 if self.agent.busy() else 1.0)
        except BaseException as exc:  # surfaced by stop()
            self.errors.append(exc)

    def start(self) -> AgentThread:
        self.thread.start()
        self._ready.wait(15)
        if self.errors:
            raise self.errors[0]
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(15)
        self.agent.client.close()
        if self.errors:
            raise self.errors[0]


def wait_for(fn: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")
