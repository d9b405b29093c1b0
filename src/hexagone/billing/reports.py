"""Revenue reports by month × region × reseller × customer × product, from issued invoices.

    operator   every issuer's revenue, wholesale cost and margin
    reseller   its own revenue (what it invoiced its customers and sub-resellers), its wholesale
               cost (what it was invoiced for the same end customers) and its margin
    customer   its spend (what it was invoiced)

Credit notes count negatively in the month of the invoice they correct. ``usage`` rates the
current month so far (nothing issued yet) at the price the organisation pays.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from hexagone.billing import metering, periods, pricing, rating
from hexagone.db.billing_models import Invoice, InvoiceLine
from hexagone.identity.orgs import load_org, org_target
from hexagone.usecase import UseCase

ZERO = Decimal("0.00")
COLUMNS = ("month", "region", "reseller", "customer", "product", "revenue", "cost", "margin")


@dataclass(frozen=True, order=True)
class Key:
    month: str
    region: str
    reseller: str
    customer: str
    product: str


def revenue(uc: UseCase, org_id: str, period: periods.Period) -> list[dict[str, Any]]:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "billing.read", what="organisation")
    orgs = pricing.org_infos(uc)
    if org.kind == "operator":
        cond: Any = Invoice.period_start == period.start
    else:
        cond = (Invoice.period_start == period.start) & or_(
            Invoice.issuer_org_id == org.id, Invoice.account_org_id == org.id
        )
    rows = uc.session.execute(
        select(
            Invoice.issuer_org_id,
            Invoice.account_org_id,
            Invoice.kind,
            InvoiceLine.region_name,
            InvoiceLine.customer_org_id,
            InvoiceLine.product,
            InvoiceLine.amount,
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(cond)
    ).all()
    rev: dict[Key, Decimal] = defaultdict(Decimal)
    cost: dict[Key, Decimal] = defaultdict(Decimal)
    for r in rows:
        sign = -1 if r.kind == "credit_note" else 1
        customer = orgs[r.customer_org_id].name if r.customer_org_id in orgs else r.customer_org_id
        if org.kind == "customer":
            rev[Key(period.label, r.region_name, orgs[r.issuer_org_id].name, customer, r.product)] += (
                sign * r.amount
            )
            continue
        if org.kind == "operator" or r.issuer_org_id == org.id:
            rev[Key(period.label, r.region_name, orgs[r.issuer_org_id].name, customer, r.product)] += (
                sign * r.amount
            )
        if orgs[r.account_org_id].kind == "reseller" and (
            org.kind == "operator" or r.account_org_id == org.id
        ):
            cost[Key(period.label, r.region_name, orgs[r.account_org_id].name, customer, r.product)] += (
                sign * r.amount
            )
    out = []
    for key in sorted(set(rev) | set(cost)):
        rv, cs = rev.get(key, ZERO), cost.get(key, ZERO)
        out.append(
            {
                "month": key.month,
                "region": key.region,
                "reseller": key.reseller,
                "customer": key.customer,
                "product": key.product,
                "revenue": rating.amount_text(rv),
                "cost": rating.amount_text(cs),
                "margin": rating.amount_text(rv - cs),
            }
        )
    return out


def usage(uc: UseCase, org_id: str, period: periods.Period) -> dict[str, Any]:
    """The organisation's rated usage in ``period`` up to now, at the price it pays (net)."""
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "billing.read", what="organisation")
    until = min(period.end, max(periods.floor_second(uc.now), period.start))
    usages = metering.period_usage(uc, period, org.path, until=until)
    rated = rating.rate(usages, pricing.chains(pricing.org_infos(uc)), pricing.load_book(uc))
    lines = []
    total = ZERO
    for key in sorted(k for k in rated.lines if k.account == org.id):
        amount = rated.amount(key)
        total += amount
        lines.append(
            {
                "customer_org_id": key.customer,
                "project_id": key.project,
                "region_id": key.region,
                "product": key.product,
                "label": key.label,
                "unit": key.unit,
                "quantity": rating.plain_text(rating.line_quantity(rated.lines[key], key.unit)),
                "unit_price": rating.plain_text(key.unit_price),
                "amount": rating.amount_text(amount),
            }
        )
    return {
        "org_id": org.id,
        "period": period.label,
        "until": until.isoformat(),
        "currency": "EUR",
        "total_net": rating.amount_text(total),
        "lines": lines,
        "unpriced": [{"region_id": r, "product": p} for r, p in sorted(rated.unpriced)],
    }
