"""Server-side commands: ``hexagone up`` and ``hexagone down`` (one-machine region), ``hexagone init``."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from hexagone import localregion, logs
from hexagone.bootstrap import (
    build_asgi,
    build_runtime,
    ensure_catalogue,
    initialise,
    local_join_token,
)
from hexagone.compute.drivers import regionnet
from hexagone.errors import HexagoneError
from hexagone.settings import load_settings

server_app = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)  # never print secrets


def _credentials_file(data_dir: Path) -> Path:
    return data_dir / "admin-credentials.txt"


@server_app.command()
def init() -> None:
    """Create the data directory and database (migrations), the operator and its first admin."""
    settings = load_settings()
    rt = build_runtime(settings)
    res = initialise(rt)
    if res.created:
        typer.echo(f"Initialised {settings.resolved_database_url().split('://')[0]} state in {settings.data_dir}.")
        if res.admin_password:
            path = _credentials_file(settings.data_dir)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(f"login: {res.admin_name}\npassword: {res.admin_password}\n")
            typer.echo(f"Operator administrator: {res.admin_name}   password: {res.admin_password}")
            typer.echo(f"(shown once; also saved, mode 0600, in {path} — delete it once stored safely)")
    else:
        typer.echo("Already initialised; nothing to do.")


@server_app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Run a complete one-machine region in the foreground (control plane; Ctrl-C stops it)."""
    overrides: dict[str, object] = {"single_machine": True}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if "HEXAGONE_SINGLE_MACHINE" in os.environ:
        overrides.pop("single_machine")
    settings = load_settings(**overrides)
    logs.configure(settings.log_level, settings.log_json)
    rt = build_runtime(settings)
    res = initialise(rt)
    url = settings.resolved_public_url()
    typer.echo("")
    typer.echo(f"Hexagone region '{settings.region}' ({settings.region_country}) is starting at {url}")
    typer.echo(f"  API docs:  {url}/v1/docs")
    if res.admin_password:
        typer.echo(f"  Log in:    hexagone login {url} --username {res.admin_name}")
        typer.echo(f"  Password:  {res.admin_password}   (shown once)")
    elif res.created:
        typer.echo(
            f"  Log in:    hexagone login {url} --username {res.admin_name}  (password from HEXAGONE_ADMIN_PASSWORD)"
        )
    else:
        typer.echo(f"  Log in:    hexagone login {url} --username {settings.admin_user}")
        cred = _credentials_file(settings.data_dir)
        if cred.exists():
            typer.echo(f"  (the first password is in {cred} if you have not changed it)")
    if settings.single_machine:
        typer.echo("  Warning: one-machine mode — operator administrators are not forced to use a second factor.")
    typer.echo("")
    if res.admin_password:
        path = _credentials_file(settings.data_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"login: {res.admin_name}\npassword: {res.admin_password}\n")
    driver = _local_driver(settings) if settings.local_agent else None
    network = None
    if driver == "qemu":
        try:
            network = regionnet.claim(settings.data_dir)
        except HexagoneError as exc:
            typer.echo(f"Error: {exc.message}", err=True)
            raise typer.Exit(1) from exc
    localregion.record_pid(settings.data_dir, "up", os.getpid())
    agent = _LocalAgent()
    if driver is not None:
        threading.Thread(target=agent.run, args=(rt, url, driver, network), daemon=True).start()
    # The event loop and the worker threads share one interpreter lock: while heavy handlers run,
    # a request waits up to this interval for the lock at each step (the default 5 ms made a
    # health check wait tens of ms behind two list pages). See docs/security-admission.md.
    sys.setswitchinterval(0.001)
    config = uvicorn.Config(build_asgi(rt), host=settings.host, port=settings.port, log_level="warning",
                            log_config=None,  # uvicorn's records go through Hexagone's handler (request ids)
                            workers=1, access_log=False, timeout_graceful_shutdown=3)
    logging.getLogger("uvicorn.error").addFilter(_expected_cancel)  # after Config set up logging
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
        _Server(config).run()
    agent.stop()
    _print_leftovers(settings.data_dir)


_SHUTTING_DOWN = threading.Event()


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        _SHUTTING_DOWN.set()
        super().handle_exit(sig, frame)


def _expected_cancel(record: logging.LogRecord) -> bool:
    """The agents' long-polls are cut at shutdown by design (uvicorn cancels what is still running
    after the grace period): not an error worth printing."""
    if "running task(s), timeout graceful shutdown exceeded" in record.getMessage():
        return False
    exc = record.exc_info[1] if record.exc_info else None
    return not (_SHUTTING_DOWN.is_set() and isinstance(exc, asyncio.CancelledError))


def _print_leftovers(data_dir: Path) -> None:
    typer.echo("")
    typer.echo("Stopped the control plane and the compute agent.")
    left = localregion.leftovers(data_dir)
    if left:
        what = [f"{len(left.guests)} guest(s) ({', '.join(left.guests)})"] if left.guests else []
        if left.namespace:
            what.append(f"the host network (namespace {left.namespace}"
                        + (", dnsmasq)" if left.dnsmasq else ")"))
        typer.echo(f"Still running, by design (guests outlive the control plane): {' and '.join(what)}.")
        typer.echo("`make down` (or `hexagone down`) stops them and removes the network; "
                   "`make up` again picks them up.")


def _local_driver(settings) -> str:  # type: ignore[no-untyped-def]
    driver = str(settings.local_agent_driver)
    if driver == "qemu" and (os.geteuid() != 0 or shutil.which("qemu-system-x86_64") is None):
        typer.echo("  Warning: QEMU needs root and qemu-system-x86_64; the local agent uses the fake driver.")
        driver = "fake"
    return driver


class _LocalAgent:
    """This machine's compute agent, a child process of ``hexagone up``."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def run(self, rt, url: str, driver: str, network: regionnet.RegionNetwork | None) -> None:  # type: ignore[no-untyped-def]
        """Build (or reuse) the tiny image, register the default catalogue, and start this machine's
        compute agent as a child process. Runs beside the API so it answers at once."""
        settings = rt.settings
        image_dir = None
        if driver == "qemu":
            try:
                from hexagone.images.tiny import build_tiny

                cache = os.environ.get("HEXAGONE_IMAGE_CACHE")
                image_dir = Path(cache).resolve() / "tiny" if cache else settings.data_dir / "image-build" / "tiny"
                typer.echo("  Building the tiny guest image (cached after the first run)...")
                build_tiny(image_dir)
            except Exception as exc:  # the region still works with uploaded images
                typer.echo(f"  Warning: the tiny image could not be built ({exc}); upload an image instead.")
                image_dir = None
        for line in ensure_catalogue(rt, image_dir):
            typer.echo(f"  Catalogue: created {line}")
        state_dir = settings.data_dir / "agent"
        env = dict(os.environ)
        if not (state_dir / "credential").exists():
            env["HEXAGONE_JOIN_TOKEN"] = local_join_token(rt)
        import time

        time.sleep(1.0)  # let the API start listening
        cmd = [sys.executable, "-m", "hexagone.main", "agent", "--url", url, "--state-dir", str(state_dir),
               "--name", socket.gethostname(), "--driver", driver]
        if network is not None:
            cmd += ["--namespace", network.namespace, "--bridge", network.bridge, "--cidr", network.cidr,
                    "--runtime-dir", str(network.runtime_dir)]
        if self.stopping.is_set():
            return
        # Its own process group: Ctrl-C reaches `hexagone up` only, which then stops the agent.
        self.proc = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent, process_group=0)  # noqa: PLW1509
        localregion.record_pid(settings.data_dir, "agent", self.proc.pid)
        typer.echo(f"  Compute agent started (driver {driver}, pid {self.proc.pid}); `hexagone host list` shows it.")
        atexit.register(self.stop)
        # PR_SET_PDEATHSIG fires when the *thread* that started the child ends: this thread must live as
        # long as the agent does.
        code = self.proc.wait()
        if not self.stopping.is_set():
            typer.echo(f"  Warning: the local compute agent exited with status {code}; restart `hexagone up`.")


@server_app.command()
def down() -> None:
    """Stop this one-machine region (the data directory's): its control plane, compute agent,
    guests and host network. Data (database, images, guest disks) is kept; `make up` starts again."""
    settings = load_settings()
    for line in localregion.down(settings.data_dir):
        typer.echo(f"  {line}")
    typer.echo(f"Region of {settings.data_dir} is down; nothing of it runs on this machine.")


def _die_with_parent() -> None:
    """In the agent child: receive SIGTERM when `hexagone up` dies, however it dies (Linux)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
