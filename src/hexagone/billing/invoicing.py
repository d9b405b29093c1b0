"""Invoices: closing a period issues one immutable invoice per billing account from its issuer.

For every edge of the organisation tree that carried usage in the period (operator -> reseller at
wholesale, operator -> direct customer at the public price, reseller -> its customer or
sub-reseller at retail), ``close_period`` writes an invoice numbered in the issuer's gapless
sequence, with one line per (end customer, project, region, product, state, unit price), VAT by
``billing.vat`` and prepaid credit applied. Closing is idempotent: an account already invoiced for
the period is skipped, so a crashed close can simply be run again.

Corrections are credit notes (``credit_note``), numbered in the same sequence; nothing is edited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from hexagone.billing import metering, periods, pricing, rating, vat
from hexagone.billing.credits import accounts_with_credit, apply_prepaid
from hexagone.db.billing_models import Invoice, InvoiceCounter, InvoiceLine
from hexagone.db.models import Project
from hexagone.errors import Conflict, InvalidInput, NotFound
from hexagone.identity.orgs import load_org, org_target, root_org
from hexagone.identity.rules import gaps_sentence, issuing_gaps
from hexagone.ids import new_id
from hexagone.usecase import UseCase

ZERO = Decimal("0.00")
LABELS = {"running": "running", "stopped": "stopped", "": ""}


def next_seq(uc: UseCase, issuer_id: str) -> int:
    """Take the issuer's next number. The counter row is locked for the rest of the transaction
    (concurrent issuers queue, numbers never skip) and remembered, so a period close locks each
    issuer's counter once."""
    counters: dict[str, InvoiceCounter] = uc.session.info.setdefault("billing_counters", {})
    row = counters.get(issuer_id)
    if row is None:
        with uc.session.no_autoflush:
            row = uc.session.execute(
                select(InvoiceCounter).where(InvoiceCounter.issuer_org_id == issuer_id).with_for_update()
            ).scalar_one_or_none()
        if row is None:
            row = InvoiceCounter(issuer_org_id=issuer_id, last_seq=0)
            uc.session.add(row)
        counters[issuer_id] = row
    row.last_seq += 1
    return row.last_seq


def describe(product: str, label: str) -> str:
    if product.startswith("instance."):
        return f"Instance {product.removeprefix('instance.')}" + (f" ({label})" if label else "")
    return {
        "volume.gb": "Block storage",
        "object.gb": "Object storage",
        "image.gb": "Image storage",
        "ip.public": "Public IP address",
        "egress.gb": "Network egress",
    }.get(product, product)


def content_hash(header: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    doc = {"invoice": header, "lines": lines}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class HeldInvoice:
    """An invoice the close did not issue, and why: its issuer cannot invoice yet. It takes no
    number; closing the period again once the issuer's identity is complete issues it."""

    issuer_org_id: str
    account_org_id: str
    reason: str


@dataclass
class CloseResult:
    period: str
    issued: list[str] = field(default_factory=list)
    skipped: int = 0
    unpriced: list[tuple[str, str]] = field(default_factory=list)
    held: list[HeldInvoice] = field(default_factory=list)


def close_period(uc: UseCase, period: periods.Period) -> CloseResult:
    """Issue every invoice of ``period`` (operator only; the period must be over)."""
    root = root_org(uc)
    if uc.principal is not None:  # periodic jobs run without one
        uc.authorize(org_target(root), "billing.write", what="billing period")
    if uc.now < period.end:
        raise Conflict(f"The period {period.label} is not over yet; close it after {period.end.isoformat()}.")
    orgs = pricing.org_infos(uc)
    usages = metering.period_usage(uc, period)
    rated = rating.rate(usages, pricing.chains(orgs), pricing.load_book(uc))
    by_account: dict[tuple[str, str], list[rating.LineKey]] = defaultdict(list)
    for key in rated.lines:
        by_account[(key.issuer, key.account)].append(key)
    done = set(
        uc.session.execute(
            select(Invoice.dedupe_key).where(Invoice.period_start == period.start, Invoice.kind == "invoice")
        ).scalars()
    )
    projects = dict(uc.session.execute(select(Project.id, Project.name)).all())
    regions = pricing.region_names(uc)
    result = CloseResult(period.label, unpriced=sorted(rated.unpriced))
    header_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for (issuer_id, account_id), keys in sorted(by_account.items()):
        dedupe = f"period:{period.start.date()}:{issuer_id}:{account_id}"
        if dedupe in done:
            result.skipped += 1
            continue
        issuer, account = orgs[issuer_id], orgs[account_id]
        gaps = issuing_gaps(issuer.legal)
        if gaps:
            result.held.append(HeldInvoice(issuer_id, account_id, gaps_sentence(issuer.name, gaps)))
            continue
        lines = []
        for pos, k in enumerate(
            sorted(
                keys,
                key=lambda k: (
                    orgs[k.customer].name,
                    projects.get(k.project, ""),
                    k.project,
                    k.region,
                    k.product,
                    k.label,
                    k.unit_price,
                ),
            ),
            start=1,
        ):
            qs = rated.lines[k]
            lines.append(
                {
                    "id": new_id(),
                    "position": pos,
                    "customer_org_id": k.customer,
                    "customer_name": orgs[k.customer].name,
                    "project_id": k.project,
                    "project_name": projects.get(k.project, ""),
                    "region_id": k.region,
                    "region_name": regions.get(k.region, ""),
                    "product": k.product,
                    "label": k.label,
                    "description": describe(k.product, k.label),
                    "unit": k.unit,
                    "quantity": rating.line_quantity(qs, k.unit),
                    "quantity_seconds": rating.stored_quantity_seconds(qs, k.unit),
                    "unit_price": k.unit_price,
                    "amount": rating.line_amount(qs, k.unit_price, k.unit),
                }
            )
        header = _header(uc, "invoice", issuer.legal, account.legal, period, dedupe, lines)
        header_rows.append(header)
        for line in lines:
            line["invoice_id"] = header["id"]
        line_rows.extend(lines)
        result.issued.append(header["id"])
    lines_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in line_rows:
        lines_of[row["invoice_id"]].append(row)
    with_credit = accounts_with_credit(uc)
    for header in header_rows:
        if header["account_org_id"] in with_credit:
            header["prepaid"] = apply_prepaid(
                uc, header["account_org_id"], header["id"], header["total_gross"]
            )
            header["amount_due"] = header["total_gross"] - header["prepaid"]
        header["content_hash"] = content_hash(header, lines_of[header["id"]])
    if header_rows:
        uc.session.execute(insert(Invoice), header_rows)
        uc.session.execute(insert(InvoiceLine), line_rows)
    uc.audit(
        "billing.period.close",
        "billing_period",
        period.label,
        root.id,
        root.path,
        details={
            "issued": len(result.issued),
            "skipped": result.skipped,
            "unpriced": [f"{r}/{p}" for r, p in result.unpriced],
            "held": [{"issuer": h.issuer_org_id, "account": h.account_org_id} for h in result.held],
        },
    )
    return result


def _header(
    uc: UseCase,
    kind: str,
    issuer: dict[str, str],
    account: dict[str, str],
    period: periods.Period,
    dedupe: str,
    lines: list[dict[str, Any]],
    corrects: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    treat = vat.treatment(issuer["country"], account["country"], account["vat_id"])
    tot = vat.totals((ln["amount"] for ln in lines), treat)
    seq = next_seq(uc, issuer["id"])
    return {
        "id": new_id(),
        "number": f"{uc.settings.billing_number_prefix}-{seq:07d}",
        "seq": seq,
        "dedupe_key": dedupe,
        "kind": kind,
        "issuer_org_id": issuer["id"],
        "account_org_id": account["id"],
        "corrects_invoice_id": corrects,
        "period_start": period.start,
        "period_end": period.end,
        "issued_at": uc.now,
        "due_at": uc.now + dt.timedelta(days=uc.settings.billing_payment_days),
        "currency": "EUR",
        "total_net": tot.net,
        "total_vat": tot.vat,
        "total_gross": tot.gross,
        "prepaid": ZERO,
        "amount_due": tot.gross,
        "vat_category": treat.category,
        "vat_rate": treat.rate,
        "vat_note": treat.note,
        "issuer": issuer,
        "account": account,
        "reason": reason,
        "content_hash": "",
    }


def credit_note(
    uc: UseCase, invoice_id: str, reason: str, amounts: dict[int, Any] | None = None, key: str | None = None
) -> Invoice:
    """Credit (part of) an invoice. ``amounts``: net amount to credit per line position; None
    credits every line in full. A line is never credited beyond what it billed."""
    inv = load_invoice(uc, invoice_id)
    issuer = load_org(uc, inv.issuer_org_id)
    uc.authorize(org_target(issuer), "billing.write", what="invoice")
    if inv.kind != "invoice":
        raise InvalidInput("Credit notes correct invoices; this document is already a credit note.")
    if not reason.strip():
        raise InvalidInput("A credit note states its reason.")
    dedupe = f"credit:{inv.id}:{key or new_id()}"
    existing = uc.session.execute(select(Invoice).where(Invoice.dedupe_key == dedupe)).scalar_one_or_none()
    if existing is not None:
        return existing
    credited = _already_credited(uc, inv.id)
    lines: list[dict[str, Any]] = []
    for ln in invoice_lines(uc, inv.id):
        if amounts is not None and ln.position not in amounts:
            continue
        left = ln.amount - credited.get(ln.position, ZERO)
        amount = left if amounts is None else rating.money(pricing.to_decimal(amounts[ln.position], "amount"))
        if amount > left:
            raise InvalidInput(f"Line {ln.position} has {left} left to credit; {amount} is too much.")
        if amount <= 0:
            continue
        lines.append(
            {
                "id": new_id(),
                "position": len(lines) + 1,
                "customer_org_id": ln.customer_org_id,
                "customer_name": ln.customer_name,
                "project_id": ln.project_id,
                "project_name": ln.project_name,
                "region_id": ln.region_id,
                "region_name": ln.region_name,
                "product": ln.product,
                "label": ln.label,
                "description": f"Credit: {ln.description} (line {ln.position} of {inv.number})",
                "unit": ln.unit,
                "quantity": ln.quantity if amount == ln.amount else Decimal(1),
                "quantity_seconds": Decimal(0),
                "unit_price": ln.unit_price if amount == ln.amount else amount,
                "amount": amount,
                "credits_position": ln.position,
            }
        )
    if not lines:
        raise InvalidInput("Nothing left to credit on this invoice.")
    if amounts is not None and len(lines) != len([a for a in amounts.values() if Decimal(str(a)) > 0]):
        raise InvalidInput("Some line positions do not exist on this invoice.")
    period = periods.Period(inv.period_start, inv.period_end)
    header = _header(
        uc,
        "credit_note",
        inv.issuer,
        inv.account,
        period,
        dedupe,
        lines,
        corrects=inv.id,
        reason=reason.strip()[:500],
    )
    header["vat_category"], header["vat_rate"], header["vat_note"] = (
        inv.vat_category,
        inv.vat_rate,
        inv.vat_note,
    )
    header["total_vat"] = rating.money(header["total_net"] * inv.vat_rate / 100)
    header["total_gross"] = header["amount_due"] = header["total_net"] + header["total_vat"]
    header["content_hash"] = content_hash(header, lines)
    uc.session.execute(insert(Invoice), [header])
    for row in lines:
        row["invoice_id"] = header["id"]
        row["label"] = f"credit:{row.pop('credits_position')}"
    uc.session.execute(insert(InvoiceLine), lines)
    uc.audit(
        "billing.credit_note",
        "invoice",
        header["id"],
        issuer.id,
        issuer.path,
        details={"number": header["number"], "corrects": inv.number, "net": str(header["total_net"])},
    )
    note = uc.session.get(Invoice, header["id"])
    assert note is not None
    return note


def _already_credited(uc: UseCase, invoice_id: str) -> dict[int, Decimal]:
    notes = select(Invoice.id).where(Invoice.corrects_invoice_id == invoice_id)
    out: dict[int, Decimal] = defaultdict(Decimal)
    for ln in uc.session.execute(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(notes))).scalars():
        out[int(ln.label.split(":", 1)[1])] += ln.amount
    return out


def load_invoice(uc: UseCase, invoice_id: str) -> Invoice:
    inv = uc.session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound("The invoice does not exist, or you cannot see it.")
    return inv


def get_invoice(uc: UseCase, invoice_id: str) -> Invoice:
    """Visible to the account it is addressed to (and above) and to its issuer."""
    inv = load_invoice(uc, invoice_id)
    account = load_org(uc, inv.account_org_id)
    uc.authorize(org_target(account), "billing.read", what="invoice")
    return inv


def invoice_lines(uc: UseCase, invoice_id: str) -> list[InvoiceLine]:
    return list(
        uc.session.execute(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
        ).scalars()
    )


def list_invoices(
    uc: UseCase,
    org_id: str,
    role: str = "account",
    period: periods.Period | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Invoice]:
    """Invoices addressed to ``org_id`` (role ``account``) or issued by it (role ``issuer``)."""
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "billing.read", what="organisation")
    col = Invoice.account_org_id if role == "account" else Invoice.issuer_org_id
    stmt = select(Invoice).where(col == org.id).order_by(Invoice.issuer_org_id, Invoice.seq)
    if period is not None:
        stmt = stmt.where(Invoice.period_start == period.start)
    return list(uc.session.execute(stmt.limit(limit).offset(offset)).scalars())


def numbering_gaps(uc: UseCase, issuer_id: str) -> list[int]:
    """Missing numbers in an issuer's sequence (always empty; a check for auditors and tests)."""
    seqs = list(
        uc.session.execute(
            select(Invoice.seq).where(Invoice.issuer_org_id == issuer_id).order_by(Invoice.seq)
        ).scalars()
    )
    top = (
        uc.session.execute(
            select(func.max(InvoiceCounter.last_seq)).where(InvoiceCounter.issuer_org_id == issuer_id)
        ).scalar()
        or 0
    )
    return sorted(set(range(1, top + 1)) - set(seqs))
