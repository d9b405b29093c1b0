"""Server-side commands: ``hexagone up`` (one-machine region) and ``hexagone init``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hexagone import logs
from hexagone.bootstrap import build_asgi, build_runtime, initialise
from hexagone.settings import load_settings

server_app = typer.Typer(add_completion=False)


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
    import uvicorn

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
        typer.echo(f"  Log in:    hexagone login {url} --username {res.admin_name}  (password from HEXAGONE_ADMIN_PASSWORD)")
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
    uvicorn.run(build_asgi(rt), host=settings.host, port=settings.port, log_level="warning",
                workers=1, access_log=False)
