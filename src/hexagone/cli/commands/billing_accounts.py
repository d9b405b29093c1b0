"""``hexagone billing invoice|credit-note|credit|budget``: what a billing account receives and holds.

Invoices are immutable: a mistake is corrected with a credit note. Documents (Factur-X PDF, the bare
Factur-X XML, CSV, JSON) are the API's bytes, written unchanged.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from hexagone.cli import resolve
from hexagone.cli.client import ApiClient
from hexagone.cli.commands.billing_options import Month, OrgOpt, org_names, org_or_own
from hexagone.cli.options import Output, drop_none
from hexagone.cli.output import (
    NOT_FOUND,
    USAGE,
    CliError,
    OutputFormat,
    list_table,
    make_console,
    note,
    print_list,
    print_record,
    say,
)
from hexagone.cli.session import client, output_format

invoice_app = typer.Typer(no_args_is_help=True, help="Invoices and credit notes: list, show, download.")
credit_note_app = typer.Typer(no_args_is_help=True, help="Correct an issued invoice with a credit note.")
credit_app = typer.Typer(no_args_is_help=True, help="Prepaid credit of a billing account.")
budget_app = typer.Typer(no_args_is_help=True, help="Budgets: monthly spend limits, alerts and hard stops.")

INVOICE_COLUMNS = (
    "id", "number", "kind", "period", "issuer", "account", "total_net", "total_vat", "total_gross",
    "amount_due", "due_at",
)  # fmt: skip
INVOICE_FIELDS = (
    "id", "number", "kind", "type_code", "issuer", "account", "corrects_number", "period", "issued_at",
    "due_at", "currency", "vat", "totals", "reason", "content_hash",
)  # fmt: skip
LINE_COLUMNS = ("position", "customer_name", "project_name", "region_name", "label", "quantity", "unit",
                "unit_price", "amount")  # fmt: skip
BUDGET_COLUMNS = ("id", "name", "org", "project_id", "amount", "spend", "thresholds", "hard_stop")
EVENT_COLUMNS = ("period", "threshold", "spend", "at", "webhook")


def _events_table(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with their webhook delivery shown as its state (``delivered``, ``pending (2 tries)``…)."""
    def state(w: dict[str, Any] | None) -> str:
        if not w:
            return ""
        return w["status"] if w["status"] != "pending" or not w["attempts"] else f"pending ({w['attempts']} tries)"
    return [{**e, "webhook": state(e.get("webhook"))} for e in items]
CREDIT_COLUMNS = ("id", "amount", "reason", "invoice_id", "created_at")
DocFormat = Literal["pdf", "csv", "json", "xml"]

InvoiceRef = Annotated[str, typer.Argument(help="Invoice id, or its number (e.g. HX-0000001).")]
InvoiceOrg = Annotated[
    str | None,
    typer.Option("--org", help="Where to look a number up: an issuer or account (default: yours)."),
]
BudgetRef = Annotated[str, typer.Argument(help="Budget id, or its name with --org.")]
Thresholds = Annotated[
    list[int] | None, typer.Option("--threshold", min=1, max=1000, help="Alert at this percent (repeat).")
]


def invoice_id(api: ApiClient, ref: str, org: str | None, roles: tuple[str, ...] = ("account", "issuer")) -> str:
    """An id as given; a number is looked up among the invoices the organisation received or issued
    (numbers are per issuer, so a reseller's own HX-0000001 and its supplier's may both match)."""
    if resolve.is_uuid(ref):
        return ref
    oid = org_or_own(api, org)
    found: dict[str, dict[str, Any]] = {}
    for role in roles:
        offset = 0
        while True:
            page = api.get("/v1/billing/invoices", org_id=oid, role=role, limit=1000, offset=offset)["items"]
            found.update({str(i["id"]): i for i in page if i["number"] == ref})
            if len(page) < 1000:
                break
            offset += 1000
    if not found:
        raise CliError(
            f"No invoice numbered '{ref}' was issued to or by that organisation: check it with "
            "`hexagone billing invoice list` (or give --org).",
            NOT_FOUND,
        )
    if len(found) > 1:
        ids = ", ".join(sorted(found))
        raise CliError(f"Several invoices are numbered '{ref}' (one per issuer): give the id, one of {ids}.", USAGE)
    return next(iter(found))


def budget_id(api: ApiClient, ref: str, org: str | None) -> str:
    if resolve.is_uuid(ref):
        return ref
    items = api.get("/v1/billing/budgets", org_id=org_or_own(api, org)).get("items") or []
    matches = [b for b in items if b["name"] == ref]
    if not matches:
        raise CliError(
            f"No budget named '{ref}': check it with `hexagone billing budget list` (or give --org).", NOT_FOUND
        )
    if len(matches) > 1:
        raise CliError(f"Several budgets are named '{ref}': give the id instead.", USAGE)
    return str(matches[0]["id"])


# --- invoices ----------------------------------------------------------------------------------------


@invoice_app.command("list")
def invoice_list(
    org: OrgOpt = None,
    role: Annotated[
        Literal["account", "issuer"],
        typer.Option("--role", help="account: invoices it received; issuer: invoices it issued."),
    ] = "account",
    month: Month = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Invoices per page.")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many invoices.")] = 0,
    output: Output = None,
) -> None:
    """Invoices and credit notes addressed to an organisation (or, with --role issuer, issued by it)."""
    api = client()
    body = api.get(
        "/v1/billing/invoices", org_id=org_or_own(api, org), role=role, month=month, limit=limit, offset=offset
    )
    items = body.get("items") or []
    fmt = output_format(output)
    names = org_names(api) if items and fmt != "json" else {}
    rows = [
        {
            **i,
            "issuer": names.get(i["issuer_org_id"], i["issuer_org_id"]),
            "account": names.get(i["account_org_id"], i["account_org_id"]),
        }
        for i in items
    ]
    print_list(rows, INVOICE_COLUMNS, fmt, raw=body, empty="No invoice (periods are invoiced once closed).")
    if len(items) == limit and fmt != "json":
        note(f"More invoices may follow: add --offset {offset + limit}.")


@invoice_app.command("show")
def invoice_show(invoice: InvoiceRef, org: InvoiceOrg = None, output: Output = None) -> None:
    """One invoice or credit note: parties, period, VAT, totals and lines."""
    api = client()
    doc = api.get(f"/v1/billing/invoices/{invoice_id(api, invoice, org)}")
    fmt = output_format(output)
    if fmt == "json":
        print_record(doc, fmt)
        return
    head = {
        **doc,
        "issuer": (doc.get("issuer") or {}).get("legal_name"),
        "account": (doc.get("account") or {}).get("legal_name"),
        "period": f"{doc['period']['start']} - {doc['period']['end']}",
    }
    print_record(head, fmt, INVOICE_FIELDS)
    console = make_console()
    console.print(list_table(doc.get("lines") or [], LINE_COLUMNS, title="Lines"))


def filename_of(disposition: str | None) -> str | None:
    match = re.search(r'filename="([^"/\\]+)"', disposition or "")
    return match.group(1) if match else None


@invoice_app.command("download")
def invoice_download(
    invoice: InvoiceRef,
    format_: Annotated[
        DocFormat, typer.Option("--format", help="pdf (Factur-X, XML embedded), xml (Factur-X), csv or json.")
    ] = "pdf",
    output_file: Annotated[
        Path | None,
        typer.Option("--output-file", help="Where to write it (default: NUMBER.FORMAT here; '-': stdout)."),
    ] = None,
    org: InvoiceOrg = None,
) -> None:
    """Download an invoice document, byte for byte as the API produced it."""
    api = client()
    response = api.send(
        "GET", f"/v1/billing/invoices/{invoice_id(api, invoice, org)}/document", params={"format": format_}
    )
    if output_file is not None and str(output_file) == "-":
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
        return
    dest = output_file or Path(filename_of(response.headers.get("content-disposition")) or f"{invoice}.{format_}")
    try:
        dest.write_bytes(response.content)
    except OSError as exc:
        raise CliError(f"Cannot write {dest} ({exc.strerror}): give a writable --output-file.", USAGE) from exc
    note(f"Wrote {len(response.content)} bytes to {dest}.")


# --- credit notes ------------------------------------------------------------------------------------


def line_amounts(values: list[str] | None) -> dict[str, str] | None:
    """``["1=10.00", ...]`` as ``{"1": "10.00"}``; None (credit everything left) when not given."""
    if not values:
        return None
    out: dict[str, str] = {}
    for item in values:
        pos, sep, amount = item.partition("=")
        if not sep or not pos.strip().isdigit() or not amount:
            raise CliError(f"--line takes POSITION=AMOUNT (e.g. 1=10.00), not '{item}'.", USAGE)
        out[pos.strip()] = amount.strip()
    return out


@credit_note_app.command("create")
def credit_note_create(
    invoice: Annotated[str, typer.Argument(help="Invoice id, or the number of an invoice you (or --org) issued.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the invoice is corrected (printed on it).")],
    line: Annotated[
        list[str] | None,
        typer.Option("--line", help="POSITION=AMOUNT net to credit on one line (repeat; default: all that is left)."),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: the same key returns the same credit note.")
    ] = None,
    org: InvoiceOrg = None,
    output: Output = None,
) -> None:
    """Correct an issued invoice with a credit note (an invoice is never edited)."""
    api = client()
    body = drop_none({"reason": reason, "lines": line_amounts(line), "key": key})
    iid = invoice_id(api, invoice, org, roles=("issuer",))  # one corrects the invoices one issued
    created = api.post(f"/v1/billing/invoices/{iid}/credit-notes", body)
    fmt = output_format(output)
    say(f"Issued credit note {created['number']} ({created['total_gross']} gross) against {invoice}.", fmt)
    print_record(created, fmt)


# --- prepaid credit ----------------------------------------------------------------------------------


@credit_app.command("show")
def credit_show(org: OrgOpt = None, output: Output = None) -> None:
    """The prepaid credit balance of a billing account and its ledger."""
    api = client()
    body = api.get("/v1/billing/credits", org_id=org_or_own(api, org))
    fmt = output_format(output)
    if fmt == "json":
        print_record(body, fmt)
        return
    say(f"Balance: {body['balance']}", fmt)
    print_list(body.get("items") or [], CREDIT_COLUMNS, fmt, empty="No credit granted yet.")


@credit_app.command("add")
def credit_add(
    org: Annotated[str, typer.Option("--org", help="The billing account (name or id).")],
    amount: Annotated[str, typer.Option("--amount", help='A positive decimal, e.g. "100.00" (EUR).')],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ledger).")] = "",
    output: Output = None,
) -> None:
    """Grant prepaid credit to an account (by its issuer, the organisation above it)."""
    api = client()
    entry = api.post("/v1/billing/credits", {"org_id": resolve.org_id(api, org), "amount": amount, "reason": reason})
    fmt = output_format(output)
    say(f"Granted {entry['amount']} to {org}; balance {entry['balance']}.", fmt)
    print_record(entry, fmt)


# --- budgets -----------------------------------------------------------------------------------------


def _budget_rows(api: ApiClient, items: list[dict[str, Any]], fmt: OutputFormat) -> list[dict[str, Any]]:
    names = org_names(api) if items and fmt != "json" else {}
    return [{**b, "org": names.get(b["org_id"], b["org_id"])} for b in items]


@budget_app.command("list")
def budget_list(org: OrgOpt = None, output: Output = None) -> None:
    """An organisation's budgets with this month's spend (net of VAT, at the price it pays)."""
    api = client()
    body = api.get("/v1/billing/budgets", org_id=org_or_own(api, org))
    fmt = output_format(output)
    rows = _budget_rows(api, body.get("items") or [], fmt)
    print_list(
        rows, BUDGET_COLUMNS, fmt, raw=body, empty="No budget: create one with `hexagone billing budget create`."
    )


@budget_app.command("create")
def budget_create(
    name: Annotated[str, typer.Option("--name", help="Budget name.")],
    amount: Annotated[str, typer.Option("--amount", help='Monthly amount, a decimal, e.g. "500.00" (EUR).')],
    org: OrgOpt = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project's spend (name or id).")] = None,
    threshold: Thresholds = None,
    hard_stop: Annotated[
        bool, typer.Option("--hard-stop", help="Refuse new servers once the budget is spent.")
    ] = False,
    webhook_url: Annotated[
        str | None, typer.Option("--webhook-url", help="POSTed to when a threshold is crossed.")
    ] = None,
    output: Output = None,
) -> None:
    """Create a monthly budget for an organisation or one of its projects."""
    api = client()
    oid = org_or_own(api, org)
    body = drop_none(
        {
            "org_id": oid,
            "project_id": resolve.project_id(api, project, oid) if project else None,
            "name": name,
            "amount": amount,
            "thresholds": threshold,
            "hard_stop": hard_stop,
            "webhook_url": webhook_url,
        }
    )
    budget = api.post("/v1/billing/budgets", body)
    fmt = output_format(output)
    say(f"Created budget '{budget['name']}' ({budget['id']}): {budget['amount']} a month.", fmt)
    print_record(budget, fmt)


@budget_app.command("update")
def budget_update(
    budget: BudgetRef,
    org: OrgOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="New monthly amount (decimal).")] = None,
    threshold: Thresholds = None,
    hard_stop: Annotated[
        bool | None, typer.Option("--hard-stop/--no-hard-stop", help="Refuse new servers once spent, or not.")
    ] = None,
    webhook_url: Annotated[str | None, typer.Option("--webhook-url", help="New webhook ('' removes it).")] = None,
    output: Output = None,
) -> None:
    """Change a budget's name, amount, thresholds (replaced), hard stop or webhook."""
    body = drop_none(
        {"name": name, "amount": amount, "thresholds": threshold, "hard_stop": hard_stop, "webhook_url": webhook_url}
    )
    if not body:
        raise typer.BadParameter("Give at least one option to change (see --help).")
    api = client()
    updated = api.patch(f"/v1/billing/budgets/{budget_id(api, budget, org)}", body)
    fmt = output_format(output)
    say(f"Updated budget '{updated['name']}'.", fmt)
    print_record(updated, fmt)


@budget_app.command("events")
def budget_events(budget: BudgetRef, org: OrgOpt = None, output: Output = None) -> None:
    """The thresholds a budget crossed, each once per month."""
    api = client()
    body = api.get(f"/v1/billing/budgets/{budget_id(api, budget, org)}/events")
    print_list(
        _events_table(body.get("items") or []), EVENT_COLUMNS, output_format(output), raw=body,
        empty="No threshold crossed yet.",
    )


@budget_app.command("evaluate")
def budget_evaluate(output: Output = None) -> None:
    """Record newly crossed thresholds now and queue their webhooks (operator; also runs periodically)."""
    body = client().post("/v1/billing/budgets/evaluate")
    fmt = output_format(output)
    items = body.get("items") or []
    say(f"{len(items)} threshold(s) newly crossed.", fmt)
    print_list(_events_table(items), ("budget_id", *EVENT_COLUMNS), fmt, raw=body, empty="No new threshold crossed.")
