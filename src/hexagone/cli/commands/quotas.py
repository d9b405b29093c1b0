"""``hexagone quota``: limits and usage of a project or an organisation."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hexagone.cli import resolve
from hexagone.cli.options import Output, drop_none
from hexagone.cli.output import OutputFormat, print_list, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Quotas: how much a project or an organisation may use.")

ProjectOpt = Annotated[str | None, typer.Option("--project", help="A project (name or id).")]
OrgOpt = Annotated[str | None, typer.Option("--org", help="An organisation (name or id).")]


def _print(body: dict[str, Any], fmt: OutputFormat) -> None:
    rows = [{"resource": name, **values} for name, values in (body.get("resources") or {}).items()]
    print_list(rows, ("resource", "limit", "in_use"), fmt, raw=body)


@app.command()
def show(project: ProjectOpt = None, org: OrgOpt = None, output: Output = None) -> None:
    """Limits and current usage (instances, vCPUs, memory, disk) of --project or --org."""
    api = client()
    scope_type, scope_id = resolve.scope(api, org, project)
    _print(api.get(f"/v1/quotas/{scope_type}/{scope_id}"), output_format(output))


@app.command("set")
def set_(
    project: ProjectOpt = None,
    org: OrgOpt = None,
    instances: Annotated[int | None, typer.Option("--instances", min=0, help="Servers.")] = None,
    vcpus: Annotated[int | None, typer.Option("--vcpus", min=0, help="Virtual CPUs.")] = None,
    ram_mb: Annotated[int | None, typer.Option("--ram-mb", min=0, help="Memory in MiB.")] = None,
    disk_gb: Annotated[int | None, typer.Option("--disk-gb", min=0, help="Disk in GiB.")] = None,
    output: Output = None,
) -> None:
    """Set limits: an organisation's by the administrators above it, a project's by its organisation's."""
    body = drop_none({"instances": instances, "vcpus": vcpus, "ram_mb": ram_mb, "disk_gb": disk_gb})
    if not body:
        raise typer.BadParameter("Give at least one of --instances, --vcpus, --ram-mb, --disk-gb.")
    api = client()
    scope_type, scope_id = resolve.scope(api, org, project)
    updated = api.call("PUT", f"/v1/quotas/{scope_type}/{scope_id}", json=body)
    fmt = output_format(output)
    say(f"Updated the quota of {scope_type} {project or org}.", fmt)
    _print(updated, fmt)
