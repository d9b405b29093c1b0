"""``hexagone server``: instances (create, power actions, console, SSH) and server groups.

The API answers create, start, stop, reboot and delete with 202 at once; ``--wait`` polls the
instance until it reaches the state asked for (or until 404 for delete) and fails with the
instance's ``error_reason`` when it goes into ERROR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from hexagone.cli import resolve
from hexagone.cli.client import ApiClient
from hexagone.cli.options import All, Cursor, Limit, Output, show_list
from hexagone.cli.output import (
    FORBIDDEN,
    GENERIC,
    NOT_FOUND,
    USAGE,
    CliError,
    OutputFormat,
    note,
    print_record,
    say,
)
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Servers (instances): create, power, console, SSH.")
group_app = typer.Typer(no_args_is_help=True, help="Server groups: affinity and anti-affinity placement.")
app.add_typer(group_app, name="group")

COLUMNS = ("id", "name", "state", "ip", "vcpus", "ram_mb", "disk_gb", "project_id", "created_at")
FIELDS = (
    "id", "name", "state", "task", "error_reason", "ip", "project_id", "org_id", "flavor_id", "image_id",
    "vcpus", "ram_mb", "disk_gb", "key_name", "metadata", "server_group_id", "host_id", "region_id",
    "zone_id", "accel", "guest_ready", "created_at", "updated_at", "launched_at",
)  # fmt: skip
GROUP_COLUMNS = ("id", "name", "policy", "project_id")

ServerRef = Annotated[str, typer.Argument(help="Server name or id.")]
ProjectOpt = Annotated[
    str | None, typer.Option("--project", help="Project (name or id) to find the server by name in.")
]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until the action is done.")]
Timeout = Annotated[float, typer.Option("--timeout", min=1, help="Seconds --wait waits at most.")]


# --- helpers -----------------------------------------------------------------------------------------


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """``["k=v", ...]`` (a repeated option) as a dict; a value without ``=`` is a usage error."""
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{option} takes KEY=VALUE, not '{item}'.", USAGE)
        out[key] = value
    return out


def server_id(api: ApiClient, ref: str, project: str | None = None) -> str:
    if resolve.is_uuid(ref):
        return ref
    filters = {"project_id": resolve.project_id(api, project)} if project else {}
    return resolve._by_name(api, "/v1/instances", "server", ref, "server list", **filters)


def ip_of(inst: dict[str, Any]) -> str | None:
    return next((a["ip"] for a in inst.get("addresses") or [] if a.get("ip")), None)


def flat(inst: dict[str, Any]) -> dict[str, Any]:
    """The first address as ``ip``, for tables."""
    return {**inst, "ip": ip_of(inst)}


def show_server(inst: dict[str, Any], fmt: OutputFormat) -> None:
    print_record(inst if fmt == "json" else flat(inst), fmt, None if fmt == "json" else FIELDS)


def wait_for(
    api: ApiClient, sid: str, target: str | None, timeout: float, fmt: OutputFormat, label: str = ""
) -> dict[str, Any] | None:
    """Poll until the state is ``target`` (or until 404 when ``target`` is None); ERROR fails at once
    with the instance's reason, and so does running out of time."""
    if fmt != "json":
        note(f"Waiting for server '{label or sid}' to be {target or 'deleted'}...")
    deadline = time.monotonic() + timeout
    delay = 0.3
    while True:
        try:
            inst: dict[str, Any] = api.get(f"/v1/instances/{sid}")
        except CliError as err:
            if target is None and err.exit_code == NOT_FOUND:
                return None
            raise
        state = inst.get("state")
        if state == target:
            return inst
        if state == "ERROR":
            reason = inst.get("error_reason") or "no reason given"
            raise CliError(
                f"Server '{inst.get('name')}' is in ERROR: {reason}. See `hexagone server console "
                f"{sid}`; then delete it or try `hexagone server reboot {sid}`.",
                GENERIC,
            )
        if time.monotonic() >= deadline:
            raise CliError(
                f"Server '{inst.get('name')}' is still {state} after {timeout:g} s: check it with "
                f"`hexagone server show {sid}` (a host that stopped answering shows UNKNOWN).",
                GENERIC,
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


# --- servers -----------------------------------------------------------------------------------------


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Server name.")],
    project: Annotated[str, typer.Option("--project", help="Project (name or id) to create it in.")],
    flavor: Annotated[str, typer.Option("--flavor", help="Flavor name or id (see `hexagone flavor list`).")],
    image: Annotated[str, typer.Option("--image", help="Image name or id (see `hexagone image list`).")],
    key_name: Annotated[str | None, typer.Option("--key-name", help="Keypair to install for SSH.")] = None,
    user_data_file: Annotated[
        Path | None, typer.Option("--user-data-file", help="cloud-init user data (at most 64 KiB).")
    ] = None,
    meta: Annotated[list[str] | None, typer.Option("--meta", help="Metadata KEY=VALUE (repeat).")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Server group (name or id).")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region name (default: any).")] = None,
    zone: Annotated[str | None, typer.Option("--zone", help="Zone name (default: any).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until RUNNING (or fail on ERROR).")] = False,
    timeout: Timeout = 600,
    output: Output = None,
) -> None:
    """Create a server; it is placed at once and booted by its host (202, state BUILDING)."""
    api = client()
    pid = resolve.project_id(api, project)
    user_data = None
    if user_data_file is not None:
        try:
            user_data = user_data_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(
                f"Cannot read {user_data_file} ({exc}): give a readable text file.", USAGE
            ) from exc
    body = {
        "project_id": pid,
        "name": name,
        "flavor": flavor,
        "image": image,
        "key_name": key_name,
        "user_data": user_data,
        "metadata": pairs(meta, "--meta"),
        "region": region,
        "zone": zone,
        "server_group_id": group_id(api, group, pid) if group else None,
    }
    inst = api.post("/v1/instances", {k: v for k, v in body.items() if v is not None})
    fmt = output_format(output)
    say(f"Creating server '{inst['name']}' ({inst['id']}).", fmt)
    if wait:
        inst = wait_for(api, inst["id"], "RUNNING", timeout, fmt, inst["name"]) or inst
        say(f"Server '{inst['name']}' is RUNNING.", fmt)
    show_server(inst, fmt)


@app.command("list")
def list_(
    project: Annotated[str | None, typer.Option("--project", help="Only this project's servers.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only servers of this exact name.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="Only this state, e.g. RUNNING.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Servers you can see."""
    api = client()
    params = {
        "project_id": resolve.project_id(api, project) if project else None,
        "name": name,
        "state": state,
    }
    show_list(
        api,
        "/v1/instances",
        params,
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        row=flat,
        empty="No server: create one with `hexagone server create`.",
    )


@app.command()
def show(server: ServerRef, project: ProjectOpt = None, output: Output = None) -> None:
    """One server with its state, address, host and sizes."""
    api = client()
    show_server(api.get(f"/v1/instances/{server_id(api, server, project)}"), output_format(output))


def _power(
    verb: Literal["start", "stop", "reboot"],
    server: str,
    project: str | None,
    wait: bool,
    timeout: float,
    output: OutputFormat | None,
    hard: bool = False,
) -> None:
    api = client()
    sid = server_id(api, server, project)
    inst = api.post(f"/v1/instances/{sid}/action", {"action": verb, **({"type": "HARD"} if hard else {})})
    fmt = output_format(output)
    target = "STOPPED" if verb == "stop" else "RUNNING"
    if wait:
        inst = wait_for(api, sid, target, timeout, fmt, inst["name"]) or inst
        say(f"Server '{inst['name']}' is {target}.", fmt)
    else:
        say(f"Asked server '{inst['name']}' to {verb} (now {inst['state']}).", fmt)
    if fmt == "json":
        print_record(inst, fmt)


@app.command()
def start(
    server: ServerRef,
    project: ProjectOpt = None,
    wait: Wait = False,
    timeout: Timeout = 300,
    output: Output = None,
) -> None:
    """Start a stopped server."""
    _power("start", server, project, wait, timeout, output)


@app.command()
def stop(
    server: ServerRef,
    project: ProjectOpt = None,
    wait: Wait = False,
    timeout: Timeout = 300,
    output: Output = None,
) -> None:
    """Stop a server (graceful shutdown, forced after a timeout)."""
    _power("stop", server, project, wait, timeout, output)


@app.command()
def reboot(
    server: ServerRef,
    project: ProjectOpt = None,
    wait: Wait = False,
    timeout: Timeout = 300,
    output: Output = None,
    hard: Annotated[bool, typer.Option("--hard", help="Reset at once instead of a graceful restart.")] = False,
) -> None:
    """Reboot a server (also starts a stopped one): graceful by default, forced off if the guest
    does not shut down in time; `--hard` resets it at once."""
    _power("reboot", server, project, wait, timeout, output, hard)


@app.command()
def delete(
    server: ServerRef,
    project: ProjectOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the server is gone.")] = False,
    timeout: Timeout = 300,
    output: Output = None,
) -> None:
    """Delete a server and its disk; its resources return to the quota once the host confirms."""
    api = client()
    sid = server_id(api, server, project)
    inst = api.call("DELETE", f"/v1/instances/{sid}")
    fmt = output_format(output)
    if wait:
        wait_for(api, sid, None, timeout, fmt, server)
        say(f"Deleted server {server}.", fmt)
    else:
        say(f"Deleting server {server}.", fmt)
    if fmt == "json" and inst is not None:
        print_record(inst, fmt)


@app.command()
def console(
    server: ServerRef,
    project: ProjectOpt = None,
    tail: Annotated[int, typer.Option("--tail", min=1, max=65536, help="Last N bytes.")] = 16384,
    output: Output = None,
) -> None:
    """The end of the serial console, as last reported by the host (a few seconds old at most)."""
    api = client()
    body = api.get(f"/v1/instances/{server_id(api, server, project)}/console", tail=tail)
    fmt = output_format(output)
    if fmt == "json":
        print_record(body, fmt)
        return
    text = body.get("output") or ""
    if not text:
        note("The console is empty so far (the host reports it every few seconds).")
    print(text, end="" if text.endswith("\n") else "\n")


# --- ssh ---------------------------------------------------------------------------------------------


def local_namespaces() -> set[str]:
    """Network namespaces of this machine (``ip netns list``); empty when ``ip`` is missing."""
    if shutil.which("ip") is None:
        return set()
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


def _default_user(api: ApiClient, inst: dict[str, Any]) -> str:
    """The image's ``default_user`` property when the image is visible, else root."""
    try:
        image = api.get(f"/v1/images/{inst['image_id']}")
    except CliError:
        return "root"
    return str((image.get("properties") or {}).get("default_user") or "root")


def _key_file(given: Path | None, inst: dict[str, Any]) -> Path | None:
    if given is not None:
        if not given.exists():
            raise CliError(f"The key file {given} does not exist: give the private key with --key.", USAGE)
        return given
    if inst.get("key_name"):
        saved = Path.home() / ".ssh" / f"hexagone-{inst['key_name']}"
        if saved.exists():
            return saved
    return None


@app.command()
def ssh(
    server: ServerRef,
    command: Annotated[list[str] | None, typer.Argument(help="Command to run (after --).")] = None,
    project: ProjectOpt = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Private key (default: ~/.ssh/hexagone-<key name> when it exists)."),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Login (default: the image's default user, else root).")
    ] = None,
) -> None:
    """SSH to a server through its host's network namespace (on the host itself, as root)."""
    api = client()
    inst = api.get(f"/v1/instances/{server_id(api, server, project)}")
    if not inst.get("host_id"):
        raise CliError(
            f"Server '{inst['name']}' is not placed on a host (state {inst['state']}): wait until it is "
            "RUNNING (`hexagone server show`).",
            GENERIC,
        )
    try:
        host = api.get(f"/v1/hosts/{inst['host_id']}")
    except CliError as err:
        if err.exit_code in (FORBIDDEN, NOT_FOUND):
            raise CliError(
                f"Reaching server '{inst['name']}' needs its host's network details, which only the operator "
                "can read: use an operator profile (`--profile`), or SSH from the host itself.",
                FORBIDDEN,
            ) from err
        raise
    ip = ip_of(inst)
    if not ip:
        hint = (
            "its host gave it none (the fake driver never does)"
            if inst["state"] == "RUNNING"
            else "wait until it is RUNNING (`hexagone server show`)"
        )
        raise CliError(f"Server '{inst['name']}' has no IP address (state {inst['state']}): {hint}.", GENERIC)
    namespace = (host.get("capabilities") or {}).get("network_namespace")
    if not namespace or namespace not in local_namespaces():
        where = f"host '{host['name']}'" + (f" (network namespace '{namespace}')" if namespace else "")
        raise CliError(
            f"Server '{inst['name']}' ({ip}) is on the default network, which is private to its host: it is "
            f"reachable only from the {where}. Run this command on that host.",
            GENERIC,
        )
    key_file = _key_file(key, inst)
    login = f"{user or _default_user(api, inst)}@{ip}"
    options = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    identity = ["-i", str(key_file)] if key_file else []
    argv = ["ip", "netns", "exec", namespace, "ssh", *options, *identity, login, *(command or [])]
    api.close()
    if not command:
        os.execvp(argv[0], argv)  # noqa: S606 - an interactive session replaces this process
    raise typer.Exit(subprocess.run(argv, check=False).returncode)


# --- server groups -----------------------------------------------------------------------------------


def _group_listing_missing(err: CliError) -> bool:
    return (err.problem or {}).get("status") == 405


def group_id(api: ApiClient, ref: str, project_id: str) -> str:
    if resolve.is_uuid(ref):
        return ref
    try:
        return resolve._by_name(
            api, "/v1/server-groups", "server group", ref, "server group list", project_id=project_id
        )
    except CliError as err:
        if _group_listing_missing(err):
            raise CliError(
                "This API cannot look server groups up by name yet: give the group's id (printed by "
                "`hexagone server group create`).",
                USAGE,
            ) from err
        raise


@group_app.command("create")
def group_create(
    name: Annotated[str, typer.Argument(help="Group name.")],
    project: Annotated[str, typer.Option("--project", help="Project (name or id).")],
    policy: Annotated[
        Literal["anti-affinity", "affinity"],
        typer.Option("--policy", help="anti-affinity (separate hosts) or affinity (same host)."),
    ] = "anti-affinity",
    output: Output = None,
) -> None:
    """Create a server group; give it to `server create --group`."""
    api = client()
    group = api.post(
        "/v1/server-groups", {"project_id": resolve.project_id(api, project), "name": name, "policy": policy}
    )
    fmt = output_format(output)
    say(f"Created server group '{group['name']}' ({group['id']}, {group['policy']}).", fmt)
    print_record(group, fmt)


@group_app.command("list")
def group_list(
    project: Annotated[str | None, typer.Option("--project", help="Only this project's groups.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Server groups you can see."""
    api = client()
    params = {"project_id": resolve.project_id(api, project) if project else None}
    try:
        show_list(
            api,
            "/v1/server-groups",
            params,
            GROUP_COLUMNS,
            limit=limit,
            cursor=cursor,
            follow=all_,
            output=output,
            empty="No server group.",
        )
    except CliError as err:
        if not _group_listing_missing(err):
            raise
        raise CliError(
            "This API server does not list server groups yet (no GET /v1/server-groups): keep the ids "
            "printed by `hexagone server group create`.",
            GENERIC,
        ) from err
