"""SQLAlchemy models of billing: usage events, price lists and retail rules, invoices and their
lines (immutable once written), invoice numbering, prepaid credit, budgets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from hexagone.db.base import Base, UTCDateTime

ID = String(36)
BIGID = BigInteger().with_variant(Integer, "sqlite")


class Money(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC(18, 6) on PostgreSQL, text on SQLite (which has no decimal type)."""

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(18, 6, asdecimal=True))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("money is Decimal, never float")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


class UsageEvent(Base):
    """Instance I entered ``state`` at ``at`` (whole seconds). ``seq`` numbers an instance's
    transitions; the unique key makes a duplicate delivery impossible to count twice. Written in
    the transaction that changes the instance's state. Never updated."""

    __tablename__ = "usage_events"
    __table_args__ = (UniqueConstraint("instance_id", "seq"), Index("ix_usage_events_at", "at"))
    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ID, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    prev_state: Mapped[str] = mapped_column(String(16), default="")
    kind: Mapped[str] = mapped_column(String(16), default="transition")  # transition | correction
    product: Mapped[str] = mapped_column(String(120))
    project_id: Mapped[str] = mapped_column(ID)
    org_id: Mapped[str] = mapped_column(ID)
    org_path: Mapped[str] = mapped_column(String(2000))
    region_id: Mapped[str] = mapped_column(ID)


class StorageSample(Base):
    """``bytes`` of ``product`` (e.g. ``image.gb``) held by ``org_id`` in ``region_id`` during the
    hourly slot starting at ``slot`` (sampled at ``sampled_at``, within the slot). One row per
    (org, product, region, slot): a repeated or concurrent sampling run cannot count twice. Each
    sample bills its whole slot; never updated."""

    __tablename__ = "storage_samples"
    __table_args__ = (
        UniqueConstraint("org_id", "product", "region_id", "slot"),
        Index("ix_storage_samples_slot", "slot"),
    )
    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ID)
    org_path: Mapped[str] = mapped_column(String(2000))
    project_id: Mapped[str] = mapped_column(ID, default="")  # "" when the resource has no project
    product: Mapped[str] = mapped_column(String(120))
    region_id: Mapped[str] = mapped_column(ID)
    bytes: Mapped[int] = mapped_column(BigInteger)
    slot: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sampled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PriceEntry(Base):
    """The operator's wholesale price of a product in a region, from ``effective_from`` on."""

    __tablename__ = "price_entries"
    __table_args__ = (UniqueConstraint("region_id", "product", "effective_from"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"), index=True)
    product: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(16))
    price: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    bill_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    effective_from: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100), default="")


class RetailRule(Base):
    """A retail rule of an issuer (the operator for its direct customers, or a reseller): an
    explicit price, a markup or a discount, optionally for one product/region/customer."""

    __tablename__ = "retail_rules"
    __table_args__ = (
        UniqueConstraint(
            "issuer_org_id", "kind", "product", "region_id", "customer_org_id", "effective_from"
        ),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    issuer_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(120), default="")
    region_id: Mapped[str] = mapped_column(String(36), default="")
    customer_org_id: Mapped[str] = mapped_column(String(36), default="")
    value: Mapped[Decimal] = mapped_column(Money())
    effective_from: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class InvoiceCounter(Base):
    """The last number an issuer used: invoices and credit notes are numbered without gaps."""

    __tablename__ = "invoice_counters"
    issuer_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(Base):
    """An invoice or credit note. Immutable: corrections are new credit notes."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("issuer_org_id", "seq"),
        Index("ix_invoices_account_period", "account_org_id", "period_start"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    number: Mapped[str] = mapped_column(String(40))  # unique per issuer (with seq)
    seq: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # invoice | credit_note
    issuer_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    account_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    corrects_invoice_id: Mapped[str | None] = mapped_column(ID)
    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total_net: Mapped[Decimal] = mapped_column(Money())
    total_vat: Mapped[Decimal] = mapped_column(Money())
    total_gross: Mapped[Decimal] = mapped_column(Money())
    prepaid: Mapped[Decimal] = mapped_column(Money())
    amount_due: Mapped[Decimal] = mapped_column(Money())
    vat_category: Mapped[str] = mapped_column(String(4))
    vat_rate: Mapped[Decimal] = mapped_column(Money())
    vat_note: Mapped[str] = mapped_column(String(500), default="")
    issuer: Mapped[dict[str, Any]] = mapped_column(JSON)  # legal details at the time of issue
    account: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500), default="")
    content_hash: Mapped[str] = mapped_column(String(64))


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    customer_org_id: Mapped[str] = mapped_column(ID, index=True)  # the end customer the usage belongs to
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    project_id: Mapped[str] = mapped_column(ID)
    project_name: Mapped[str] = mapped_column(String(100), default="")
    region_id: Mapped[str] = mapped_column(ID)
    region_name: Mapped[str] = mapped_column(String(63), default="")
    product: Mapped[str] = mapped_column(String(120))
    label: Mapped[str] = mapped_column(String(16), default="")
    description: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Money())
    quantity_seconds: Mapped[Decimal] = mapped_column(Money())
    unit_price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())


class CreditEntry(Base):
    """Prepaid credit ledger of a billing account: grants (positive) and uses on invoices (negative)."""

    __tablename__ = "credit_entries"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    invoice_id: Mapped[str | None] = mapped_column(ID)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100), default="")


class Budget(Base):
    """A monthly spending budget for an organisation or one of its projects."""

    __tablename__ = "budgets"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    project_id: Mapped[str | None] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Money())
    thresholds: Mapped[list[int]] = mapped_column(JSON, default=list)  # percentages, e.g. [50, 80, 100]
    hard_stop: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class BudgetEvent(Base):
    """A threshold crossed, recorded once per budget, month and threshold."""

    __tablename__ = "budget_events"
    __table_args__ = (UniqueConstraint("budget_id", "period_start", "threshold"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    budget_id: Mapped[str] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    threshold: Mapped[int] = mapped_column(Integer)
    spend: Mapped[Decimal] = mapped_column(Money())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _immutable(mapper: Any, connection: Any, target: Any) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are immutable: issue a credit note instead.")


for _model in (Invoice, InvoiceLine, UsageEvent, StorageSample):
    event.listen(_model, "before_update", _immutable)
    event.listen(_model, "before_delete", _immutable)
