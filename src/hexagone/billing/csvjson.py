"""Invoices and reports as JSON-ready dicts and CSV text. The JSON form of an invoice (``document``)
is also what the Factur-X XML and the PDF are drawn from, so the three outputs always agree."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hexagone import csvsafe
from hexagone.billing.rating import amount_text, plain_text
from hexagone.db.billing_models import Invoice, InvoiceLine

LINE_FIELDS = (
    "position",
    "customer_org_id",
    "customer_name",
    "project_id",
    "project_name",
    "region_name",
    "product",
    "label",
    "description",
    "unit",
    "quantity",
    "unit_price",
    "amount",
)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def document(
    inv: Invoice, lines: Sequence[InvoiceLine], legal: dict[str, str] | None = None
) -> dict[str, Any]:
    """The invoice as one JSON-ready dict (amounts as decimal strings, never floats)."""
    return {
        "id": inv.id,
        "number": inv.number,
        "kind": inv.kind,
        "type_code": "381" if inv.kind == "credit_note" else "380",
        "issuer": inv.issuer,
        "account": inv.account,
        "corrects_invoice_id": inv.corrects_invoice_id,
        "period": {"start": _iso(inv.period_start), "end": _iso(inv.period_end)},
        "issued_at": _iso(inv.issued_at),
        "due_at": _iso(inv.due_at),
        "currency": inv.currency,
        "vat": {"category": inv.vat_category, "rate": plain_text(inv.vat_rate), "note": inv.vat_note},
        "totals": {
            "net": amount_text(inv.total_net),
            "vat": amount_text(inv.total_vat),
            "gross": amount_text(inv.total_gross),
            "prepaid": amount_text(inv.prepaid),
            "due": amount_text(inv.amount_due),
        },
        "reason": inv.reason,
        "content_hash": inv.content_hash,
        "legal": legal or {},
        "lines": [_line(ln) for ln in lines],
    }


def _line(ln: InvoiceLine) -> dict[str, Any]:
    out = {k: getattr(ln, k) for k in LINE_FIELDS}
    out.update(
        quantity=plain_text(ln.quantity), unit_price=plain_text(ln.unit_price), amount=amount_text(ln.amount)
    )
    return out


def to_csv(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    """CSV through the one safe writer (``hexagone.csvsafe``: no cell can start a formula)."""
    return csvsafe.rows(header, rows)


def invoice_csv(doc: dict[str, Any]) -> str:
    """One row per line, with the invoice number and totals repeated for spreadsheet use."""
    header = ["number", "kind", "issued_at", "issuer", "account", *LINE_FIELDS]
    rows = [
        [
            doc["number"],
            doc["kind"],
            doc["issued_at"],
            doc["issuer"]["legal_name"],
            doc["account"]["legal_name"],
            *[ln[k] for k in LINE_FIELDS],
        ]
        for ln in doc["lines"]
    ]
    t = doc["totals"]
    body = to_csv(rows, header)
    return body + to_csv(
        [[t["net"], doc["vat"]["rate"], t["vat"], t["gross"], t["prepaid"], t["due"]]],
        ["total_net", "vat_rate", "total_vat", "total_gross", "prepaid", "amount_due"],
    )
