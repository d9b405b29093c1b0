"""``hexagone host``: compute hosts and their join tokens (operator only)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hexagone.cli.options import All, Cursor, Limit, Output, show_list
from hexagone.cli.output import note, print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Compute hosts (operator only).")

COLUMNS = ("id", "name", "status", "vcpus", "ram_mb", "disk_gb", "instances", "accel", "last_heartbeat_at")
HostRef = Annotated[str, typer.Argument(help="Host name or id (the API takes both).")]


def _flat(host: dict[str, Any]) -> dict[str, Any]:
    """Used/total sizes and the accelerator, for the table."""
    caps = host.get("capabilities") or {}
    return {
        **host,
        "vcpus": f"{host.get('vcpus_used')}/{host.get('vcpus')}",
        "ram_mb": f"{host.get('ram_mb_used')}/{host.get('ram_mb')}",
        "disk_gb": f"{host.get('disk_gb_used')}/{host.get('disk_gb')}",
        "accel": caps.get("accel"),
    }


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="up, down, disabled or decommissioned.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Every compute host, with used/total capacity."""
    show_list(
        client(),
        "/v1/hosts",
        {"status": status},
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        row=_flat,
        empty="No compute host yet: join one with a token from `hexagone host join-token`.",
    )


@app.command()
def show(host: HostRef, output: Output = None) -> None:
    """One host: capacity, ratios, capabilities, last heartbeat."""
    print_record(client().get(f"/v1/hosts/{host}"), output_format(output))


def _set_status(host: str, status: str, output: Any) -> None:
    updated = client().patch(f"/v1/hosts/{host}", {"status": status})
    fmt = output_format(output)
    verb = "disabled: no new server is placed on it" if status == "disabled" else "enabled"
    say(f"Host '{updated['name']}' is {verb}.", fmt)
    if fmt == "json":
        print_record(updated, fmt)


@app.command()
def disable(host: HostRef, output: Output = None) -> None:
    """Place no new server on a host (its servers keep running)."""
    _set_status(host, "disabled", output)


@app.command()
def enable(host: HostRef, output: Output = None) -> None:
    """Place servers on a host again."""
    _set_status(host, "up", output)


@app.command()
def decommission(
    host: HostRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: Output = None,
) -> None:
    """Retire a host for good: revokes its credential (its agent stops). Refused while servers run
    on it: delete them first. The machine can join again later with a new join token."""
    api = client()
    found = api.get(f"/v1/hosts/{host}")
    if not yes:
        typer.confirm(f"Decommission host {found['name']} and revoke its credential?", abort=True)
    api.delete(f"/v1/hosts/{found['id']}")
    say(f"Host {found['name']} is decommissioned: its credential is revoked and its agent stops.",
        output_format(output))


app.command("delete", help="Same as `decommission`.")(decommission)


@app.command("join-token")
def join_token(
    region: Annotated[str, typer.Option("--region", help="Region the new host joins.")],
    zone: Annotated[str | None, typer.Option("--zone", help="Zone (default: the region's first).")] = None,
    ttl: Annotated[int, typer.Option("--ttl", min=60, max=7 * 86400, help="Validity in seconds.")] = 3600,
    output: Output = None,
) -> None:
    """A one-time token a new compute host exchanges for its credential (shown once)."""
    body: dict[str, Any] = {"region": region, "ttl_seconds": ttl}
    if zone:
        body["zone"] = zone
    token = client().post("/v1/hosts/join-tokens", body)
    fmt = output_format(output)
    if fmt == "json":
        print_record(token, fmt)
        return
    print(f"Join token: {token['join_token']}")
    note(
        f"Valid once, until {token['expires_at']}. On the new host run: "
        "HEXAGONE_JOIN_TOKEN=<token> hexagone agent --url <API URL>"
    )
