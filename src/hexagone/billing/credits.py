"""Prepaid credit: a ledger per billing account. The issuer (the account's parent organisation)
grants credit; each invoice uses what is left, up to its total (shown as "prepaid" on the invoice,
BT-113, and subtracted from the amount due). The balance is the sum of the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from hexagone.billing.rating import money
from hexagone.db.billing_models import CreditEntry
from hexagone.errors import InvalidInput
from hexagone.identity.orgs import load_org, org_target
from hexagone.ids import new_id
from hexagone.usecase import UseCase

ZERO = Decimal("0.00")


def balance(uc: UseCase, account_id: str) -> Decimal:
    rows = uc.session.execute(
        select(CreditEntry.amount).where(CreditEntry.account_org_id == account_id)
    ).scalars()
    return sum(rows, ZERO)


def grant(uc: UseCase, account_id: str, amount: Any, reason: str) -> CreditEntry:
    """Grant prepaid credit to ``account_id``; only its issuer (the parent) may."""
    from hexagone.billing.pricing import to_decimal

    account = load_org(uc, account_id)
    if account.parent_id is None:
        raise InvalidInput("The operator has no issuer to hold credit with.")
    issuer = load_org(uc, account.parent_id)
    uc.authorize(org_target(issuer), "billing.write", what="organisation")
    value = money(to_decimal(amount, "amount"))
    if value <= 0:
        raise InvalidInput("A credit grant is a positive amount.")
    entry = CreditEntry(
        id=new_id(),
        account_org_id=account.id,
        amount=value,
        invoice_id=None,
        reason=reason[:500],
        created_at=uc.now,
        created_by=uc.actor.name,
    )
    uc.session.add(entry)
    uc.session.flush()
    uc.audit(
        "billing.credit.grant",
        "credit",
        entry.id,
        account.id,
        account.path,
        details={"amount": str(value), "reason": reason[:200]},
    )
    return entry


def accounts_with_credit(uc: UseCase) -> set[str]:
    return set(uc.session.execute(select(CreditEntry.account_org_id).distinct()).scalars())


def apply_prepaid(uc: UseCase, account_id: str, invoice_id: str, total: Decimal) -> Decimal:
    """Use the account's credit on an invoice of ``total``; returns the amount used."""
    if total <= 0:
        return ZERO
    used = min(balance(uc, account_id), total)
    if used <= 0:
        return ZERO
    uc.session.add(
        CreditEntry(
            id=new_id(),
            account_org_id=account_id,
            amount=-used,
            invoice_id=invoice_id,
            reason="used on invoice",
            created_at=uc.now,
            created_by="billing",
        )
    )
    return used


def ledger(uc: UseCase, account_id: str) -> list[CreditEntry]:
    account = load_org(uc, account_id)
    uc.authorize(org_target(account), "billing.read", what="organisation")
    return list(
        uc.session.execute(
            select(CreditEntry)
            .where(CreditEntry.account_org_id == account.id)
            .order_by(CreditEntry.created_at, CreditEntry.id)
        ).scalars()
    )
