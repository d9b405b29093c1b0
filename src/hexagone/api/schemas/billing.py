"""Responses of /v1/billing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hexagone.api.schemas.common import DecimalText, Id, Money, Month, Out, Timestamp, list_of


class QuoteOut(Out):
    flavor: str = Field(examples=["m1.small"])
    region: str = Field(examples=["fr-par"])
    product: str = Field(examples=["instance.m1.small"])
    currency: str = Field(examples=["EUR"])
    unit_price_per_hour: DecimalText
    per_hour: Money
    per_month: Money
    hours_per_month: int = Field(examples=[730])
    stopped_billed: bool
    vat_excluded: bool


class PriceOut(Out):
    id: Id
    region_id: Id
    product: str = Field(examples=["instance.m1.small"])
    unit: str = Field(examples=["hour"])
    price: DecimalText
    currency: str = Field(examples=["EUR"])
    bill_stopped: bool
    effective_from: Timestamp


class RuleOut(Out):
    id: Id
    org_id: Id
    kind: Literal["price", "markup", "discount"]
    product: str
    region_id: str
    customer_org_id: str
    value: DecimalText
    effective_from: Timestamp


class Unpriced(Out):
    region_id: Id
    product: str


class UsageLine(Out):
    customer_org_id: Id
    project_id: str
    region_id: Id
    product: str
    label: str
    unit: str
    quantity: DecimalText
    unit_price: DecimalText
    amount: Money


class UsageOut(Out):
    org_id: Id
    period: Month
    until: Timestamp
    currency: str = Field(examples=["EUR"])
    total_net: Money
    lines: list[UsageLine]
    unpriced: list[Unpriced]


class HeldInvoiceOut(Out):
    issuer_org_id: Id
    account_org_id: Id
    reason: str = Field(
        examples=["Reseller A cannot issue invoices yet: its legal identity lacks a VAT id. Complete it with …"]
    )


class PeriodClosed(Out):
    period: Month
    issued: int = Field(examples=[12])
    skipped: int
    unpriced: list[Unpriced]
    held: list[HeldInvoiceOut] = Field(
        default_factory=list,
        description="Invoices not issued (no number taken) because their issuer's legal identity is incomplete; "
        "closing the period again issues them once it is complete.",
    )


class Correction(Out):
    instance_id: Id
    metered: str | None
    stored: str | None


class Reconciled(Out):
    corrections: list[Correction]


class InvoiceSummary(Out):
    id: Id
    number: str = Field(examples=["HX-2026-000042"])
    kind: Literal["invoice", "credit_note"]
    issuer_org_id: Id
    account_org_id: Id
    period: Month
    issued_at: Timestamp
    due_at: Timestamp
    total_net: Money
    total_vat: Money
    total_gross: Money
    prepaid: Money
    amount_due: Money
    vat_category: str = Field(examples=["S"])
    vat_rate: DecimalText
    corrects_invoice_id: Id | None


class InvoiceLineOut(Out):
    position: int
    customer_org_id: str | None
    customer_name: str | None
    project_id: str | None
    project_name: str | None
    region_name: str | None
    product: str
    label: str
    description: str | None
    unit: str
    quantity: DecimalText
    unit_price: DecimalText
    amount: Money


class InvoiceDocument(Out):
    id: Id
    number: str = Field(examples=["HX-2026-000042"])
    kind: Literal["invoice", "credit_note"]
    type_code: Literal["380", "381"]
    issuer: dict[str, Any]
    account: dict[str, Any]
    corrects_invoice_id: Id | None
    corrects_number: str | None = None
    period: dict[str, str] = Field(
        examples=[{"start": "2026-03-01T00:00:00+00:00", "end": "2026-04-01T00:00:00+00:00"}]
    )
    issued_at: str
    due_at: str
    currency: str = Field(examples=["EUR"])
    vat: dict[str, str | None]
    totals: dict[str, str] = Field(examples=[{"net": "10.00", "vat": "2.00", "gross": "12.00", "prepaid": "0.00",
                                              "due": "12.00"}])
    reason: str | None
    content_hash: str
    legal: dict[str, str]
    lines: list[InvoiceLineOut]


class CreditGranted(Out):
    id: Id
    org_id: Id
    amount: Money
    balance: Money


class CreditEntry(Out):
    id: Id
    amount: Money
    invoice_id: Id | None
    reason: str
    created_at: Timestamp


class CreditLedger(Out):
    balance: Money
    items: list[CreditEntry]


class BudgetOut(Out):
    id: Id
    org_id: Id
    project_id: Id | None
    name: str = Field(examples=["web team"])
    amount: Money
    thresholds: list[int] = Field(examples=[[50, 80, 100]])
    hard_stop: bool
    webhook_url: str


class BudgetWithSpend(BudgetOut):
    spend: Money


class WebhookDeliveryOut(Out):
    id: Id
    status: Literal["pending", "delivered", "failed", "refused"]
    attempts: int = Field(examples=[1])
    last_error: str | None
    last_status_code: int | None
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None


class BudgetEventOut(Out):
    id: Id
    budget_id: Id
    period: Month
    threshold: int = Field(examples=[80])
    spend: Money
    at: Timestamp
    webhook: WebhookDeliveryOut | None = Field(
        None, description="Delivery of the budget's webhook for this event (the outbox); null without a webhook."
    )


class RevenueRow(Out):
    month: Month
    region: str
    reseller: str
    customer: str
    product: str
    revenue: Money
    cost: Money
    margin: Money


PriceList = list_of(PriceOut, "PriceList")
RuleList = list_of(RuleOut, "RuleList")
InvoiceList = list_of(InvoiceSummary, "InvoiceList")
BudgetList = list_of(BudgetWithSpend, "BudgetList")
BudgetEventList = list_of(BudgetEventOut, "BudgetEventList")
RevenueReport = list_of(RevenueRow, "RevenueReport")
