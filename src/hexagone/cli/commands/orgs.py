"""``hexagone org``: resellers and customers in the organisation tree."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from hexagone.cli import resolve
from hexagone.cli.options import All, Cursor, Limit, Output, drop_none, show_list
from hexagone.cli.output import print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Organisations: the operator, resellers and customers.")

COLUMNS = ("id", "name", "kind", "country", "parent_id", "status")
OrgRef = Annotated[str, typer.Argument(help="Organisation name or id.")]
Kind = Literal["reseller", "customer"]
Country = Annotated[str | None, typer.Option("--country", help="ISO 3166 country code, e.g. FR.")]
VatId = Annotated[str | None, typer.Option("--vat-id", help="Intra-EU VAT number.")]
Siren = Annotated[str | None, typer.Option("--siren", help="SIREN (9 digits, France).")]
Siret = Annotated[str | None, typer.Option("--siret", help="SIRET (14 digits, France).")]
LegalName = Annotated[str | None, typer.Option("--legal-name", help="Registered name (default: --name).")]
Address = Annotated[str | None, typer.Option("--address", help="Postal address.")]
AllowedCountry = Annotated[
    list[str] | None,
    typer.Option("--allowed-country", help="Residency: a country its resources may live in (repeat)."),
]
AllowedRegion = Annotated[
    list[str] | None,
    typer.Option("--allowed-region", help="Residency: a region its resources may live in (repeat)."),
]


def _residency(countries: list[str] | None, regions: list[str] | None) -> dict[str, Any] | None:
    if countries is None and regions is None:
        return None
    return {"allowed_countries": countries or [], "allowed_regions": regions or []}


@app.command("list")
def list_(
    kind: Annotated[
        Literal["operator", "reseller", "customer"] | None, typer.Option(help="Only this kind.")
    ] = None,
    parent: Annotated[str | None, typer.Option(help="Only the children of this organisation.")] = None,
    name: Annotated[str | None, typer.Option(help="Only the organisation of this exact name.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Organisations you can see (your own and everything below it)."""
    api = client()
    params = {"kind": kind, "name": name, "parent_id": resolve.org_id(api, parent) if parent else None}
    show_list(
        api,
        "/v1/organisations",
        params,
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No organisation matches.",
    )


@app.command()
def show(org: OrgRef, output: Output = None) -> None:
    """One organisation with its legal details and residency policy."""
    api = client()
    print_record(api.get(f"/v1/organisations/{resolve.org_id(api, org)}"), output_format(output))


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Display name, unique among its siblings.")],
    kind: Annotated[Kind, typer.Option("--kind", help="reseller or customer.")] = "customer",
    parent: Annotated[
        str | None, typer.Option("--parent", help="Parent organisation (default: yours).")
    ] = None,
    country: Country = None,
    vat_id: VatId = None,
    siren: Siren = None,
    siret: Siret = None,
    legal_name: LegalName = None,
    address: Address = None,
    mfa_required: Annotated[
        bool, typer.Option("--mfa-required", help="Its users must use a second factor.")
    ] = False,
    allowed_country: AllowedCountry = None,
    allowed_region: AllowedRegion = None,
    output: Output = None,
) -> None:
    """Create a reseller or a customer under --parent (default: your own organisation)."""
    api = client()
    parent_id = resolve.org_id(api, parent) if parent else resolve.own_org_id(api)
    body = drop_none(
        {
            "parent_id": parent_id,
            "kind": kind,
            "name": name,
            "country": country,
            "vat_id": vat_id,
            "siren": siren,
            "siret": siret,
            "legal_name": legal_name,
            "address": address,
            "mfa_required": mfa_required,
            "residency": _residency(allowed_country, allowed_region),
        }
    )
    org = api.post("/v1/organisations", body)
    fmt = output_format(output)
    say(f"Created {kind} '{org['name']}' ({org['id']}).", fmt)
    print_record(org, fmt)


@app.command()
def update(
    org: OrgRef,
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    country: Country = None,
    vat_id: VatId = None,
    siren: Siren = None,
    siret: Siret = None,
    legal_name: LegalName = None,
    address: Address = None,
    mfa_required: Annotated[
        bool | None,
        typer.Option("--mfa-required/--no-mfa-required", help="Require a second factor of its users."),
    ] = None,
    allowed_country: AllowedCountry = None,
    allowed_region: AllowedRegion = None,
    output: Output = None,
) -> None:
    """Change an organisation's name, legal details, second-factor rule or residency policy."""
    api = client()
    body = drop_none(
        {
            "name": name,
            "country": country,
            "vat_id": vat_id,
            "siren": siren,
            "siret": siret,
            "legal_name": legal_name,
            "address": address,
            "mfa_required": mfa_required,
            "residency": _residency(allowed_country, allowed_region),
        }
    )
    if not body:
        raise typer.BadParameter("Give at least one option to change (see --help).")
    updated = api.patch(f"/v1/organisations/{resolve.org_id(api, org)}", body)
    fmt = output_format(output)
    say(f"Updated organisation '{updated['name']}'.", fmt)
    print_record(updated, fmt)


@app.command()
def delete(
    org: OrgRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: Output = None,
) -> None:
    """Delete an empty organisation (no child organisations, no projects); its users are disabled."""
    api = client()
    oid = resolve.org_id(api, org)
    if not yes:
        typer.confirm(f"Delete organisation {org} and disable its users?", abort=True)
    api.delete(f"/v1/organisations/{oid}")
    say(f"Deleted organisation {org}.", output_format(output))
