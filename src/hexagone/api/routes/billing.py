"""/v1/billing: prices and quotes, retail rules, usage, invoices (JSON, CSV, Factur-X XML and PDF),
credit notes, prepaid credit, budgets, revenue reports and the operator's period close."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, Field

from hexagone.api.deps import UC, IdemKey
from hexagone.api.idempotency import run_create
from hexagone.api.routing import endpoint, new_router
from hexagone.api.schemas import Strict
from hexagone.billing import (
    budgets,
    credits,
    csvjson,
    facturx,
    invoicing,
    metering,
    pdf,
    periods,
    pricing,
    reports,
)
from hexagone.billing.rating import amount_text, plain_text
from hexagone.db.billing_models import Budget, BudgetEvent, Invoice, PriceEntry, RetailRule
from hexagone.errors import InvalidInput
from hexagone.identity.orgs import org_target, root_org

router = new_router("/v1/billing", "billing")
Decimalish = Annotated[
    str,
    Field(
        min_length=1,
        max_length=30,
        pattern=r"^\d+(\.\d+)?$",
        description='A decimal number as a string, e.g. "0.0125".',
    ),
]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (UTC).")]


class PriceIn(Strict):
    region: str = Field(max_length=63)
    product: str = Field(
        max_length=120,
        description="instance.<flavor>, volume.gb, object.gb, image.gb, ip.public or egress.gb",
    )
    price: Decimalish
    effective_from: AwareDatetime | None = None
    bill_stopped: bool = False


class RuleIn(Strict):
    org_id: str = Field(max_length=36, description="The issuer: the operator or a reseller.")
    kind: Literal["price", "markup", "discount"]
    value: Decimalish
    product: str = Field("", max_length=120)
    region: str = Field("", max_length=63)
    customer_org_id: str = Field("", max_length=36)
    effective_from: AwareDatetime | None = None


class CreditNoteIn(Strict):
    reason: str = Field(min_length=1, max_length=500)
    lines: dict[int, Decimalish] | None = Field(
        None, description="Line position -> net amount; omit for all."
    )
    key: str | None = Field(None, max_length=100, description="Idempotency key for this credit note.")


class CreditIn(Strict):
    org_id: str = Field(max_length=36)
    amount: Decimalish
    reason: str = Field("", max_length=500)


class BudgetIn(Strict):
    org_id: str = Field(max_length=36)
    project_id: str | None = Field(None, max_length=36)
    name: str = Field(min_length=1, max_length=100)
    amount: Decimalish
    thresholds: list[int] | None = Field(None, max_length=20)
    hard_stop: bool = False
    webhook_url: str = Field("", max_length=500)


class BudgetPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    amount: Decimalish | None = None
    thresholds: list[int] | None = Field(None, max_length=20)
    hard_stop: bool | None = None
    webhook_url: str | None = Field(None, max_length=500)


def _month(label: str | None, now: dt.datetime) -> periods.Period:
    try:
        return periods.parse_month(label) if label else periods.month_of(now)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def price_out(p: PriceEntry) -> dict[str, Any]:
    return {
        "id": p.id,
        "region_id": p.region_id,
        "product": p.product,
        "unit": p.unit,
        "price": plain_text(p.price),
        "currency": p.currency,
        "bill_stopped": p.bill_stopped,
        "effective_from": p.effective_from,
    }


def rule_out(r: RetailRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "org_id": r.issuer_org_id,
        "kind": r.kind,
        "product": r.product,
        "region_id": r.region_id,
        "customer_org_id": r.customer_org_id,
        "value": plain_text(r.value),
        "effective_from": r.effective_from,
    }


def invoice_summary(i: Invoice) -> dict[str, Any]:
    return {
        "id": i.id,
        "number": i.number,
        "kind": i.kind,
        "issuer_org_id": i.issuer_org_id,
        "account_org_id": i.account_org_id,
        "period": i.period_start.strftime("%Y-%m"),
        "issued_at": i.issued_at,
        "due_at": i.due_at,
        "total_net": amount_text(i.total_net),
        "total_vat": amount_text(i.total_vat),
        "total_gross": amount_text(i.total_gross),
        "prepaid": amount_text(i.prepaid),
        "amount_due": amount_text(i.amount_due),
        "vat_category": i.vat_category,
        "vat_rate": plain_text(i.vat_rate),
        "corrects_invoice_id": i.corrects_invoice_id,
    }


def budget_out(b: Budget) -> dict[str, Any]:
    return {
        "id": b.id,
        "org_id": b.org_id,
        "project_id": b.project_id,
        "name": b.name,
        "amount": amount_text(b.amount),
        "thresholds": b.thresholds,
        "hard_stop": b.hard_stop,
        "webhook_url": b.webhook_url,
    }


def event_out(e: BudgetEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "budget_id": e.budget_id,
        "period": e.period_start.strftime("%Y-%m"),
        "threshold": e.threshold,
        "spend": amount_text(e.spend),
        "at": e.at,
    }


def invoice_document(uc: UC, invoice_id: str) -> dict[str, Any]:
    inv = invoicing.get_invoice(uc, invoice_id)
    doc = csvjson.document(inv, invoicing.invoice_lines(uc, inv.id))
    if inv.corrects_invoice_id:
        doc["corrects_number"] = invoicing.load_invoice(uc, inv.corrects_invoice_id).number
    return doc


@endpoint(router, "GET", "/quote", permission="flavor.read")
def quote(
    uc: UC,
    flavor: Annotated[str, Query(max_length=100)],
    region: Annotated[str, Query(max_length=63)] = "",
    org_id: Annotated[str | None, Query(max_length=36)] = None,
) -> dict[str, Any]:
    """What one instance of ``flavor`` will cost per hour and per month (730 h), excluding VAT, at
    the price your organisation (or ``org_id``) pays, before you create it."""
    return pricing.quote(uc, flavor, region, org_id)


@endpoint(router, "GET", "/prices", permission="region.read")
def list_prices(uc: UC, region: Annotated[str | None, Query(max_length=63)] = None) -> dict[str, Any]:
    """The operator's wholesale price list (every effective date)."""
    uc.authorize(org_target(root_org(uc)), "billing.read", what="price list")
    return {"items": [price_out(p) for p in pricing.list_prices(uc, region)]}


@endpoint(router, "POST", "/prices", permission="billing.write", status_code=201)
def set_price(body: PriceIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Set a wholesale price from ``effective_from`` (default now; never in the past)."""
    return run_create(uc, idem, "POST", request.url.path, body, lambda: price_out(
        pricing.set_price(uc, body.region, body.product, body.price, body.effective_from, body.bill_stopped)
    ))


@endpoint(router, "GET", "/rules", permission="billing.read")
def list_rules(uc: UC, org_id: Annotated[str, Query(max_length=36)]) -> dict[str, Any]:
    return {"items": [rule_out(r) for r in pricing.list_rules(uc, org_id)]}


@endpoint(router, "POST", "/rules", permission="billing.write", status_code=201)
def set_rule(body: RuleIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """A retail rule of the operator (for its direct customers) or of a reseller."""
    return run_create(uc, idem, "POST", request.url.path, body, lambda: rule_out(
        pricing.set_rule(
            uc,
            body.org_id,
            body.kind,
            body.value,
            body.effective_from,
            body.product,
            body.region,
            body.customer_org_id,
        )
    ))


@endpoint(router, "GET", "/usage", permission="billing.read")
def usage(uc: UC, org_id: Annotated[str, Query(max_length=36)], month: Month | None = None) -> dict[str, Any]:
    """Rated usage of the month so far, at the price the organisation pays (net of VAT)."""
    return reports.usage(uc, org_id, _month(month, uc.now))


@endpoint(router, "POST", "/periods/{month}/close", permission="billing.write")
def close_period(month: str, uc: UC) -> dict[str, Any]:
    """Issue every invoice of a finished month (operator; idempotent)."""
    result = invoicing.close_period(uc, _month(month, uc.now))
    return {
        "period": result.period,
        "issued": len(result.issued),
        "skipped": result.skipped,
        "unpriced": [{"region_id": r, "product": p} for r, p in result.unpriced],
        "held": [
            {"issuer_org_id": h.issuer_org_id, "account_org_id": h.account_org_id, "reason": h.reason}
            for h in result.held
        ],
    }


@endpoint(router, "POST", "/reconcile", permission="billing.write")
def reconcile(uc: UC) -> dict[str, Any]:
    """Compare metered and stored instance states; record corrections (operator)."""
    uc.authorize(org_target(root_org(uc)), "billing.write", what="metering")
    fixes = metering.reconcile(uc)
    return {
        "corrections": [
            {"instance_id": c.instance_id, "metered": c.metered, "stored": c.stored} for c in fixes
        ]
    }


@endpoint(router, "GET", "/invoices", permission="billing.read")
def list_invoices(
    uc: UC,
    org_id: Annotated[str, Query(max_length=36)],
    role: Literal["account", "issuer"] = "account",
    month: Month | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Invoices addressed to ``org_id`` (or, with role=issuer, issued by it)."""
    period = _month(month, uc.now) if month else None
    return {
        "items": [
            invoice_summary(i) for i in invoicing.list_invoices(uc, org_id, role, period, limit, offset)
        ]
    }


@endpoint(router, "GET", "/invoices/{invoice_id}", permission="billing.read")
def get_invoice(invoice_id: str, uc: UC) -> dict[str, Any]:
    return invoice_document(uc, invoice_id)


@endpoint(router, "GET", "/invoices/{invoice_id}/document", permission="billing.read")
def invoice_file(invoice_id: str, uc: UC, format: Literal["pdf", "xml", "csv", "json"] = "pdf") -> Response:
    """The invoice as a Factur-X PDF (XML embedded), the bare Factur-X XML, CSV or JSON."""
    doc = invoice_document(uc, invoice_id)
    penalty = uc.settings.billing_late_penalty
    name = f"{doc['number']}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "pdf":
        return Response(pdf.facturx_pdf(doc, penalty), media_type="application/pdf", headers=headers)
    if format == "xml":
        return Response(
            facturx.build(doc, pdf.mentions(doc, penalty)), media_type="application/xml", headers=headers
        )
    if format == "csv":
        return Response(csvjson.invoice_csv(doc), media_type="text/csv", headers=headers)
    import json

    return Response(json.dumps(doc, default=str), media_type="application/json", headers=headers)


@endpoint(router, "POST", "/invoices/{invoice_id}/credit-notes", permission="billing.write", status_code=201)
def credit_note(invoice_id: str, body: CreditNoteIn, uc: UC) -> dict[str, Any]:
    """Correct an issued invoice with a credit note (never an edit)."""
    note = invoicing.credit_note(
        uc, invoice_id, body.reason, dict(body.lines) if body.lines else None, body.key
    )
    return invoice_summary(note)


@endpoint(router, "POST", "/credits", permission="billing.write", status_code=201)
def grant_credit(body: CreditIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Grant prepaid credit to a billing account (by its issuer). Send an Idempotency-Key: a retried
    grant must not credit twice."""

    def grant() -> dict[str, Any]:
        entry = credits.grant(uc, body.org_id, body.amount, body.reason)
        return {
            "id": entry.id,
            "org_id": entry.account_org_id,
            "amount": amount_text(entry.amount),
            "balance": amount_text(credits.balance(uc, entry.account_org_id)),
        }

    return run_create(uc, idem, "POST", request.url.path, body, grant)


@endpoint(router, "GET", "/credits", permission="billing.read")
def credit_ledger(uc: UC, org_id: Annotated[str, Query(max_length=36)]) -> dict[str, Any]:
    entries = credits.ledger(uc, org_id)
    return {
        "balance": amount_text(credits.balance(uc, org_id)),
        "items": [
            {
                "id": e.id,
                "amount": amount_text(e.amount),
                "invoice_id": e.invoice_id,
                "reason": e.reason,
                "created_at": e.created_at,
            }
            for e in entries
        ],
    }


@endpoint(router, "POST", "/budgets", permission="billing.write", status_code=201)
def create_budget(body: BudgetIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    return run_create(uc, idem, "POST", request.url.path, body, lambda: budget_out(
        budgets.create(
            uc,
            body.org_id,
            body.name,
            body.amount,
            body.project_id,
            body.thresholds,
            body.hard_stop,
            body.webhook_url,
        )
    ))


@endpoint(router, "GET", "/budgets", permission="billing.read")
def list_budgets(uc: UC, org_id: Annotated[str, Query(max_length=36)]) -> dict[str, Any]:
    return {
        "items": [
            {**budget_out(b), "spend": amount_text(budgets.spend(uc, b))}
            for b in budgets.list_for(uc, org_id)
        ]
    }


@endpoint(router, "PATCH", "/budgets/{budget_id}", permission="billing.write")
def update_budget(budget_id: str, body: BudgetPatch, uc: UC) -> dict[str, Any]:
    return budget_out(budgets.update(uc, budget_id, body.model_dump(exclude_unset=True)))


@endpoint(router, "GET", "/budgets/{budget_id}/events", permission="billing.read")
def budget_events(budget_id: str, uc: UC) -> dict[str, Any]:
    return {"items": [event_out(e) for e in budgets.events_of(uc, budget_id)]}


@endpoint(router, "POST", "/budgets/evaluate", permission="billing.write")
def evaluate_budgets(uc: UC) -> dict[str, Any]:
    """Record newly crossed thresholds (operator; also run periodically)."""
    return {"items": [event_out(e) for e in budgets.evaluate(uc)]}


@endpoint(router, "GET", "/reports/revenue", permission="billing.read")
def revenue(
    uc: UC,
    org_id: Annotated[str, Query(max_length=36)],
    month: Month,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Revenue, wholesale cost and margin by month × region × reseller × customer × product."""
    rows = reports.revenue(uc, org_id, _month(month, uc.now))
    if format == "csv":
        return Response(
            csvjson.to_csv(([r[c] for c in reports.COLUMNS] for r in rows), reports.COLUMNS),
            media_type="text/csv",
        )
    return {"items": rows}
