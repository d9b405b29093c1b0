"""``hexagone flavor``: the sizes servers are created with (the catalogue is the operator's)."""

from __future__ import annotations

from typing import Annotated

import typer

from hexagone.cli import resolve
from hexagone.cli.options import All, Cursor, Limit, Output, show_list
from hexagone.cli.output import print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Flavors: vCPUs, memory and disk of a server.")

COLUMNS = ("id", "name", "vcpus", "ram_mb", "disk_gb", "is_public", "disabled", "description")
FlavorRef = Annotated[str, typer.Argument(help="Flavor name or id (the API takes both).")]
OrgRef = Annotated[str, typer.Argument(help="Organisation name or id.")]


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Option("--name", help="Only the flavor of this exact name.")] = None,
    min_vcpus: Annotated[
        int | None, typer.Option("--min-vcpus", min=1, help="At least this many vCPUs.")
    ] = None,
    min_ram_mb: Annotated[
        int | None, typer.Option("--min-ram-mb", min=1, help="At least this memory.")
    ] = None,
    min_disk_gb: Annotated[
        int | None, typer.Option("--min-disk-gb", min=1, help="At least this disk.")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Public flavors and those shared with your organisation."""
    params = {"name": name, "min_vcpus": min_vcpus, "min_ram_mb": min_ram_mb, "min_disk_gb": min_disk_gb}
    show_list(
        client(),
        "/v1/flavors",
        params,
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No flavor is available to you.",
    )


@app.command()
def show(flavor: FlavorRef, output: Output = None) -> None:
    """One flavor."""
    print_record(client().get(f"/v1/flavors/{flavor}"), output_format(output))


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Flavor name, e.g. m1.large.")],
    vcpus: Annotated[int, typer.Option("--vcpus", min=1, help="Virtual CPUs.")],
    ram_mb: Annotated[int, typer.Option("--ram-mb", min=64, help="Memory in MiB.")],
    disk_gb: Annotated[int, typer.Option("--disk-gb", min=1, help="Root disk in GiB.")],
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    private: Annotated[
        bool, typer.Option("--private", help="Restricted: only organisations given with access-add see it.")
    ] = False,
    output: Output = None,
) -> None:
    """Add a flavor to the catalogue (operator only); its sizes never change afterwards."""
    flavor = client().post(
        "/v1/flavors",
        {
            "name": name,
            "vcpus": vcpus,
            "ram_mb": ram_mb,
            "disk_gb": disk_gb,
            "description": description,
            "is_public": not private,
        },
    )
    fmt = output_format(output)
    say(f"Created flavor '{flavor['name']}' ({flavor['id']}).", fmt)
    print_record(flavor, fmt)


@app.command()
def delete(
    flavor: FlavorRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: Output = None,
) -> None:
    """Delete a flavor (operator only); one still used by servers is disabled instead."""
    api = client()
    found = api.get(f"/v1/flavors/{flavor}")
    if not yes:
        typer.confirm(f"Delete flavor {found['name']}?", abort=True)
    api.delete(f"/v1/flavors/{found['id']}")
    say(f"Deleted flavor {found['name']} (or disabled it, if servers still use it).", output_format(output))


@app.command("access-list")
def access_list(flavor: FlavorRef, output: Output = None) -> None:
    """The organisations a restricted flavor is shared with (operator only)."""
    show_list(
        client(),
        f"/v1/flavors/{flavor}/access",
        {},
        ("org_id",),
        limit=1000,
        cursor=None,
        follow=False,
        output=output,
        empty="The flavor is shared with no organisation.",
    )


@app.command("access-add")
def access_add(flavor: FlavorRef, org: OrgRef, output: Output = None) -> None:
    """Share a restricted flavor with an organisation and its whole subtree (operator only)."""
    api = client()
    access = api.post(f"/v1/flavors/{flavor}/access", {"org_id": resolve.org_id(api, org)})
    fmt = output_format(output)
    say(f"Flavor {flavor} is now available to organisation {org} and below it.", fmt)
    if fmt == "json":
        print_record(access, fmt)


@app.command("access-remove")
def access_remove(flavor: FlavorRef, org: OrgRef, output: Output = None) -> None:
    """Stop sharing a restricted flavor with an organisation (operator only)."""
    api = client()
    api.delete(f"/v1/flavors/{flavor}/access/{resolve.org_id(api, org)}")
    say(f"Flavor {flavor} is no longer available to organisation {org}.", output_format(output))
