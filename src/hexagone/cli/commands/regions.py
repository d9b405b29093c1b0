"""``hexagone region``: regions, their jurisdiction and their zones."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hexagone.cli.options import All, Cursor, Limit, Output, drop_none, show_list
from hexagone.cli.output import print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Regions and zones (creating them is for the operator).")

COLUMNS = ("id", "name", "country", "legal_entity", "zones", "description")
RegionRef = Annotated[str, typer.Argument(help="Region name or id.")]
Country = Annotated[str | None, typer.Option("--country", help="Jurisdiction: ISO 3166 code, e.g. FR.")]
LegalEntity = Annotated[str | None, typer.Option("--legal-entity", help="The legal entity operating it.")]
Description = Annotated[str | None, typer.Option("--description", help="Free text.")]


def _flat(region: dict[str, Any]) -> dict[str, Any]:
    """Zones by name, for the table."""
    return {**region, "zones": [z["name"] for z in region.get("zones") or []]}


@app.command("list")
def list_(limit: Limit = 100, cursor: Cursor = None, all_: All = False, output: Output = None) -> None:
    """Every region, with its country and zones."""
    show_list(
        client(),
        "/v1/regions",
        {},
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        row=_flat,
        empty="No region yet: create one with `hexagone region create`.",
    )


@app.command()
def show(region: RegionRef, output: Output = None) -> None:
    """One region (the API accepts its name or its id)."""
    fmt = output_format(output)
    body = client().get(f"/v1/regions/{region}")
    print_record(body if fmt == "json" else _flat(body), fmt)


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Lower-case name, e.g. fr-par.")],
    country: Annotated[str, typer.Option("--country", help="Jurisdiction: ISO 3166 code, e.g. FR.")],
    legal_entity: Annotated[str, typer.Option("--legal-entity", help="The legal entity operating it.")],
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    output: Output = None,
) -> None:
    """Create a region (operator only)."""
    region = client().post(
        "/v1/regions",
        {"name": name, "country": country, "legal_entity": legal_entity, "description": description},
    )
    fmt = output_format(output)
    say(f"Created region '{region['name']}' ({region['country']}).", fmt)
    print_record(region if fmt == "json" else _flat(region), fmt)


@app.command()
def update(
    region: RegionRef,
    country: Country = None,
    legal_entity: LegalEntity = None,
    description: Description = None,
    output: Output = None,
) -> None:
    """Change a region's jurisdiction, legal entity or description (operator only)."""
    body = drop_none({"country": country, "legal_entity": legal_entity, "description": description})
    if not body:
        raise typer.BadParameter("Give at least one of --country, --legal-entity, --description.")
    updated = client().patch(f"/v1/regions/{region}", body)
    fmt = output_format(output)
    say(f"Updated region '{updated['name']}'.", fmt)
    print_record(updated if fmt == "json" else _flat(updated), fmt)


@app.command("zone-create")
def zone_create(
    region: RegionRef,
    zone: Annotated[str, typer.Argument(help="Zone name, e.g. fr-par-1.")],
    output: Output = None,
) -> None:
    """Add a zone to a region (operator only)."""
    created = client().post(f"/v1/regions/{region}/zones", {"name": zone})
    fmt = output_format(output)
    say(f"Created zone '{created['name']}' in region {region}.", fmt)
    if fmt == "json":
        print_record(created, fmt)
