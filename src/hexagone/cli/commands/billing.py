"""``hexagone billing``: quotes, price lists, usage, revenue reports and the period close.

Invoices, credit notes, prepaid credit and budgets are in ``billing_accounts.py``. Every amount is
printed as the API gives it (a decimal string, never a float) and sent as typed; the only sums the
CLI makes (``report --by``) are done with ``Decimal``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from hexagone.cli import resolve
from hexagone.cli.commands import billing_accounts
from hexagone.cli.commands.billing_options import Month, OrgOpt, check_month, org_names, org_or_own, region_names
from hexagone.cli.options import Output, drop_none
from hexagone.cli.output import USAGE, CliError, OutputFormat, note, print_list, print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(
    no_args_is_help=True,
    help="Billing: quotes, prices, usage, invoices, credit, budgets, revenue reports, period close.",
)
price_app = typer.Typer(no_args_is_help=True, help="The operator's wholesale price list (per region).")
rule_app = typer.Typer(
    no_args_is_help=True, help="Retail rules of the operator or a reseller: markup, explicit price, discount."
)
app.add_typer(price_app, name="price")
app.add_typer(rule_app, name="rule")
app.add_typer(billing_accounts.invoice_app, name="invoice")
app.add_typer(billing_accounts.credit_note_app, name="credit-note")
app.add_typer(billing_accounts.credit_app, name="credit")
app.add_typer(billing_accounts.budget_app, name="budget")

PRICE_COLUMNS = ("id", "region", "product", "unit", "price", "currency", "bill_stopped", "effective_from")
RULE_COLUMNS = ("id", "kind", "value", "product", "region", "customer", "effective_from")
USAGE_COLUMNS = ("customer", "project_id", "region", "product", "label", "quantity", "unit", "unit_price", "amount")
QUOTE_FIELDS = (
    "flavor", "region", "product", "currency", "unit_price_per_hour", "per_hour", "per_month",
    "hours_per_month", "stopped_billed", "vat_excluded",
)  # fmt: skip
REPORT_DIMENSIONS = ("region", "reseller", "customer", "product")
REPORT_AMOUNTS = ("revenue", "cost", "margin")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def effective(value: str | None) -> str | None:
    """``2026-12-01`` means midnight UTC that day; a full ISO 8601 time with its offset passes as is."""
    if value is not None and DAY_RE.match(value):
        return f"{value}T00:00:00Z"
    return value


def product_of(flavor: str | None, product: str | None, required: bool = True) -> str:
    """``--flavor F`` is shorthand for ``--product instance.F``."""
    if flavor and product:
        raise CliError("Give --flavor or --product, not both.", USAGE)
    if flavor:
        return f"instance.{flavor}"
    if not product and required:
        raise CliError("Give --flavor F (an instance flavor) or --product P (e.g. volume.gb).", USAGE)
    return product or ""


FlavorOpt = Annotated[str | None, typer.Option("--flavor", help="Flavor name: the product instance.FLAVOR.")]
ProductOpt = Annotated[
    str | None,
    typer.Option("--product", help="instance.<flavor>, volume.gb, object.gb, image.gb, ip.public, egress.gb."),
]
RegionOpt = Annotated[str | None, typer.Option("--region", help="Region name or id.")]
FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="Effective from (YYYY-MM-DD or ISO 8601 with offset; default: now)."),
]


# --- quote -------------------------------------------------------------------------------------------


@app.command()
def quote(
    flavor: Annotated[str, typer.Option("--flavor", help="Flavor name or id (see `hexagone flavor list`).")],
    region: Annotated[str | None, typer.Option("--region", help="Region (default: the API's own).")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Quote for this organisation (default: yours).")] = None,
    output: Output = None,
) -> None:
    """What one server of a flavor costs per hour and per month (730 h), excluding VAT, before you create it."""
    api = client()
    body = api.get("/v1/billing/quote", flavor=flavor, region=region, org_id=resolve.org_id(api, org) if org else None)
    fmt = output_format(output)
    say(
        f"A {body['flavor']} server in {body['region']} costs {body['per_hour']} {body['currency']} per hour, "
        f"about {body['per_month']} {body['currency']} per month ({body['hours_per_month']} h), VAT excluded.",
        fmt,
    )
    print_record(body, fmt, None if fmt == "json" else QUOTE_FIELDS)


# --- wholesale prices --------------------------------------------------------------------------------


@price_app.command("list")
def price_list(region: RegionOpt = None, output: Output = None) -> None:
    """The operator's wholesale price list, every effective date (past, current and future)."""
    api = client()
    body = api.get("/v1/billing/prices", region=region)
    items = body.get("items") or []
    fmt = output_format(output)
    names = region_names(api) if items and fmt != "json" else {}
    rows = [{**p, "region": names.get(p["region_id"], p["region_id"])} for p in items]
    print_list(
        rows, PRICE_COLUMNS, fmt, raw=body, empty="No price yet: the operator sets them with `billing price set`."
    )


@price_app.command("set")
def price_set(
    region: Annotated[str, typer.Option("--region", help="Region name or id.")],
    price: Annotated[str, typer.Option("--price", help='Price per unit, a decimal, e.g. "0.0125" (EUR).')],
    flavor: FlavorOpt = None,
    product: ProductOpt = None,
    effective_from: FromOpt = None,
    bill_stopped: Annotated[
        bool, typer.Option("--bill-stopped", help="Also bill instances of this flavor while STOPPED.")
    ] = False,
    output: Output = None,
) -> None:
    """Set a wholesale price from a date (default now, never in the past); entries are never edited."""
    api = client()
    body = drop_none(
        {
            "region": region,
            "product": product_of(flavor, product),
            "price": price,
            "effective_from": effective(effective_from),
            "bill_stopped": bill_stopped,
        }
    )
    entry = api.post("/v1/billing/prices", body)
    fmt = output_format(output)
    say(
        f"Price of {entry['product']} in {region}: {entry['price']} {entry['currency']} per {entry['unit']} "
        f"from {entry['effective_from']}.",
        fmt,
    )
    print_record(entry, fmt)


# --- retail rules ------------------------------------------------------------------------------------


@rule_app.command("list")
def rule_list(
    org: Annotated[str | None, typer.Option("--org", help="The issuer (name or id; default: yours).")] = None,
    output: Output = None,
) -> None:
    """The retail rules an organisation (the operator or a reseller) applies to its customers."""
    api = client()
    body = api.get("/v1/billing/rules", org_id=org_or_own(api, org))
    items = body.get("items") or []
    fmt = output_format(output)
    regions = region_names(api) if items and fmt != "json" else {}
    orgs = org_names(api) if items and fmt != "json" else {}
    rows = [
        {
            **r,
            "region": regions.get(r["region_id"], r["region_id"]),
            "customer": orgs.get(r["customer_org_id"], r["customer_org_id"]),
        }
        for r in items
    ]
    print_list(rows, RULE_COLUMNS, fmt, raw=body, empty="No retail rule: customers pay the issuer's own cost.")


@rule_app.command("set")
def rule_set(
    org: Annotated[str | None, typer.Option("--org", help="The issuer (name or id; default: yours).")] = None,
    markup: Annotated[str | None, typer.Option("--markup", help='Percent over the issuer\'s cost, e.g. "20".')] = None,
    discount: Annotated[str | None, typer.Option("--discount", help='Percent off, e.g. "10".')] = None,
    price: Annotated[
        str | None, typer.Option("--price", help="Explicit price per unit (needs --flavor or --product).")
    ] = None,
    flavor: FlavorOpt = None,
    product: ProductOpt = None,
    region: RegionOpt = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only for this customer organisation (name or id).")
    ] = None,
    effective_from: FromOpt = None,
    output: Output = None,
) -> None:
    """Add a retail rule: exactly one of --markup, --discount, --price; the most specific rule wins."""
    given = {k: v for k, v in {"markup": markup, "discount": discount, "price": price}.items() if v is not None}
    if len(given) != 1:
        raise CliError("Give exactly one of --markup, --discount and --price.", USAGE)
    kind, value = next(iter(given.items()))
    api = client()
    body = drop_none(
        {
            "org_id": org_or_own(api, org),
            "kind": kind,
            "value": value,
            "product": product_of(flavor, product, required=False) or None,
            "region": region,
            "customer_org_id": resolve.org_id(api, customer) if customer else None,
            "effective_from": effective(effective_from),
        }
    )
    rule = api.post("/v1/billing/rules", body)
    fmt = output_format(output)
    scope = " ".join(
        part
        for part in (
            f"on {rule['product']}" if rule.get("product") else "",
            f"in {region}" if region else "",
            f"for {customer}" if customer else "",
        )
        if part
    )
    unit = "" if kind == "price" else " %"
    say(f"Added a {kind} rule of {rule['value']}{unit}{' ' + scope if scope else ''}.", fmt)
    print_record(rule, fmt)


# --- usage, reports, close ---------------------------------------------------------------------------


@app.command()
def usage(org: OrgOpt = None, month: Month = None, output: Output = None) -> None:
    """The month's usage so far, rated at the price the organisation pays (net of VAT)."""
    api = client()
    body = api.get("/v1/billing/usage", org_id=org_or_own(api, org), month=month)
    fmt = output_format(output)
    if fmt == "json":
        print_record(body, fmt)
        return
    lines = body.get("lines") or []
    orgs = org_names(api) if lines else {}
    regions = region_names(api) if lines else {}
    rows = [
        {
            **ln,
            "customer": orgs.get(ln["customer_org_id"], ln["customer_org_id"]),
            "region": regions.get(ln["region_id"], ln["region_id"]),
        }
        for ln in lines
    ]
    print_list(rows, USAGE_COLUMNS, fmt, empty="No usage in this period so far.")
    say(f"Total {body['period']} until {body['until']}: {body['total_net']} {body['currency']} (net of VAT).", fmt)
    for gap in body.get("unpriced") or []:
        note(f"Warning: {gap['product']} in region {gap['region_id']} has no price; it is not counted.")


def parse_by(value: str | None) -> tuple[str, ...]:
    if value is None:
        return REPORT_DIMENSIONS
    dims = tuple(d.strip() for d in value.split(",") if d.strip())
    unknown = [d for d in dims if d not in REPORT_DIMENSIONS]
    if unknown or not dims:
        raise CliError(f"--by takes a comma-separated list of {', '.join(REPORT_DIMENSIONS)}; not '{value}'.", USAGE)
    return tuple(d for d in REPORT_DIMENSIONS if d in dims)  # the API's column order


def group_rows(rows: list[dict[str, Any]], dims: tuple[str, ...]) -> list[dict[str, Any]]:
    """Sum revenue, cost and margin over the dimensions left out (exact decimals, printed to the cent)."""
    sums: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(REPORT_AMOUNTS, Decimal(0)))
    for row in rows:
        key = (str(row["month"]), *(str(row[d]) for d in dims))
        for amount in REPORT_AMOUNTS:
            sums[key][amount] += Decimal(str(row[amount]))
    return [
        {
            "month": key[0],
            **dict(zip(dims, key[1:], strict=True)),
            **{a: str(v.quantize(Decimal("0.01"))) for a, v in totals.items()},
        }
        for key, totals in sorted(sums.items())
    ]


def csv_text(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[c] for c in columns])
    return buf.getvalue()


@app.command()
def report(
    month: Annotated[str, typer.Option("--month", callback=check_month, help="YYYY-MM (UTC).")],
    org: OrgOpt = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Group by some of region,reseller,customer,product (default: all four)."),
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the report as CSV to this file ('-': stdout).")
    ] = None,
    output: Output = None,
) -> None:
    """Revenue, wholesale cost and margin of a month, from issued invoices (credit notes count negatively)."""
    dims = parse_by(by)
    api = client()
    oid = org_or_own(api, org)
    fmt = output_format(output)
    body = api.get("/v1/billing/reports/revenue", org_id=oid, month=month)
    rows = body.get("items") or []
    columns = ("month", *dims, *REPORT_AMOUNTS)
    grouped = rows if dims == REPORT_DIMENSIONS else group_rows(rows, dims)
    if csv_file is not None:
        if dims == REPORT_DIMENSIONS:  # the API's own export, byte for byte
            text = api.send(
                "GET", "/v1/billing/reports/revenue", params={"org_id": oid, "month": month, "format": "csv"}
            ).text
        else:
            text = csv_text(grouped, columns)
        if str(csv_file) == "-":
            print(text, end="")
            return
        csv_file.write_text(text)
        note(f"Wrote {len(grouped)} row(s) to {csv_file}.")
    raw = body if dims == REPORT_DIMENSIONS else {"items": grouped}
    print_list(grouped, columns, fmt, raw=raw, empty=f"No invoiced revenue for {month} (is the period closed?).")


@app.command()
def close(
    month: Annotated[str, typer.Option("--month", callback=check_month, help="The finished month, YYYY-MM.")],
    output: Output = None,
) -> None:
    """Issue every invoice of a finished month (operator; re-running it issues only what is missing)."""
    body = client().post(f"/v1/billing/periods/{month}/close")
    fmt = output_format(output)
    say(f"Closed {body['period']}: {body['issued']} invoice(s) issued, {body['skipped']} already issued.", fmt)
    for gap in body.get("unpriced") or []:
        note(
            f"Warning: usage of {gap['product']} in region {gap['region_id']} has no price and was not billed: "
            "set one with `hexagone billing price set`."
        )
    for held in body.get("held") or []:
        note(f"Held (not issued, no number taken): {held['reason']} Then run `hexagone billing close` again.")
    if fmt == "json":
        print_record(body, fmt)


@app.command()
def reconcile(output: Output = None) -> None:
    """Compare metered and stored server states and record corrections (operator; a second run finds none)."""
    body = client().post("/v1/billing/reconcile")
    fmt: OutputFormat = output_format(output)
    fixes = body.get("corrections") or []
    say(f"{len(fixes)} correction(s) recorded.", fmt)
    print_list(fixes, ("instance_id", "metered", "stored"), fmt, raw=body, empty="Metering matches every server.")
