"""Budgets: a monthly amount (net, excluding VAT) for an organisation or one of its projects,
alert thresholds recorded once per month as events, and an optional hard stop: once the month's
spend reaches the budget, new instances are refused (existing ones keep running and are billed as
usual). Each event is announced to the budget's optional webhook through the outbox
(``hexagone.webhooks.outbox``), written in the same transaction: a threshold crossed by a request
or by the periodic job is announced alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from hexagone.billing import metering, periods, pricing, rating
from hexagone.db.billing_models import Budget, BudgetEvent
from hexagone.db.models import Project
from hexagone.errors import InvalidInput, NotFound, QuotaExceeded
from hexagone.identity.orgs import load_org, load_project, org_target, project_target, root_org
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase
from hexagone.webhooks import outbox
from hexagone.webhooks.rules import AddressPolicy, check_url

DEFAULT_THRESHOLDS = [50, 80, 100]


def create(
    uc: UseCase,
    org_id: str,
    name: str,
    amount: Any,
    project_id: str | None = None,
    thresholds: list[int] | None = None,
    hard_stop: bool = False,
    webhook_url: str = "",
) -> Budget:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "billing.write", what="organisation")
    if project_id:
        project = load_project(uc, project_id)
        uc.authorize(project_target(project), "project.read", what="project")  # another tenant's: as missing
        if project.org_id != org.id:
            raise InvalidInput("The project belongs to another organisation.")
    ths = sorted(set(thresholds if thresholds is not None else DEFAULT_THRESHOLDS))
    if any(not 0 < t <= 1000 for t in ths):
        raise InvalidInput("Thresholds are percentages of the budget between 1 and 1000.")
    _check_webhook(uc, webhook_url)
    budget = Budget(
        id=new_id(),
        org_id=org.id,
        org_path=org.path,
        project_id=project_id,
        name=name,
        amount=rating.money(pricing.to_decimal(amount, "amount")),
        thresholds=ths,
        hard_stop=hard_stop,
        webhook_url=webhook_url,
        created_at=uc.now,
        updated_at=uc.now,
    )
    uc.session.add(budget)
    uc.session.flush()
    uc.audit(
        "billing.budget.create",
        "budget",
        budget.id,
        org.id,
        org.path,
        details={"amount": str(budget.amount), "hard_stop": hard_stop, "project_id": project_id},
    )
    return budget


def _check_webhook(uc: UseCase, url: str | None) -> None:
    """A budget's webhook is an http(s) URL the control plane may call (``webhooks.rules``)."""
    if url:
        check_url(url, AddressPolicy.from_cidrs(uc.settings.webhook_allowed_networks))


def load(uc: UseCase, budget_id: str, permission: str = "billing.read") -> Budget:
    budget = uc.session.get(Budget, budget_id) if is_id(budget_id) else None
    if budget is None:
        raise NotFound("The budget does not exist, or you cannot see it.")
    uc.authorize(org_target(load_org(uc, budget.org_id)), permission, what="budget")
    return budget


def update(uc: UseCase, budget_id: str, changes: dict[str, Any]) -> Budget:
    budget = load(uc, budget_id, "billing.write")
    _check_webhook(uc, changes.get("webhook_url"))
    if changes.get("thresholds") is not None and any(not 0 < t <= 1000 for t in changes["thresholds"]):
        raise InvalidInput("Thresholds are percentages of the budget between 1 and 1000.")
    if changes.get("amount") is not None:
        budget.amount = rating.money(pricing.to_decimal(changes["amount"], "amount"))
    for key in ("name", "hard_stop", "webhook_url", "thresholds"):
        if changes.get(key) is not None:
            setattr(budget, key, sorted(set(changes[key])) if key == "thresholds" else changes[key])
    budget.updated_at = uc.now
    uc.audit(
        "billing.budget.update",
        "budget",
        budget.id,
        budget.org_id,
        budget.org_path,
        details={"fields": sorted(changes)},
    )
    return budget


def list_for(uc: UseCase, org_id: str) -> list[Budget]:
    org = load_org(uc, org_id)
    uc.authorize(org_target(org), "billing.read", what="organisation")
    return list(
        uc.session.execute(select(Budget).where(Budget.org_id == org.id).order_by(Budget.id)).scalars()
    )


def spend(uc: UseCase, budget: Budget) -> Decimal:
    """This month's spend so far (net) at the price the organisation pays."""
    period = periods.month_of(uc.now)
    usages = metering.period_usage(
        uc, period, budget.org_path, budget.project_id or "", until=periods.floor_second(uc.now)
    )
    orgs = pricing.org_infos(uc)
    rated = rating.rate(usages, pricing.chains(orgs), pricing.load_book(uc))
    total = Decimal("0.00")
    for key in rated.lines:
        if key.account == budget.org_id and (budget.project_id is None or key.project == budget.project_id):
            total += rated.amount(key)
    return total


def check_can_create(uc: UseCase, project: Project) -> None:
    """Refuse a new resource in ``project`` when a hard-stop budget over it is exhausted."""
    budgets = list(
        uc.session.execute(
            select(Budget).where(
                Budget.hard_stop.is_(True),
                Budget.org_id == project.org_id,
                or_(Budget.project_id.is_(None), Budget.project_id == project.id),
            )
        ).scalars()
    )
    for budget in budgets:
        used = spend(uc, budget)
        if used >= budget.amount:
            raise QuotaExceeded(
                f"Budget '{budget.name}' is exhausted ({used} of {budget.amount} EUR this month): new "
                "resources are refused until next month. Raise the budget or turn off its hard stop."
            )


def evaluate(uc: UseCase) -> list[BudgetEvent]:
    """Record every threshold newly crossed this month (run periodically; safe to repeat)."""
    if uc.principal is not None:  # periodic jobs run without one
        uc.authorize_operator(org_target(root_org(uc)), "billing.write", doing="evaluate every budget")
    period = periods.month_of(uc.now)
    out: list[BudgetEvent] = []
    for budget in uc.session.execute(select(Budget)).scalars():
        seen = set(
            uc.session.execute(
                select(BudgetEvent.threshold).where(
                    BudgetEvent.budget_id == budget.id, BudgetEvent.period_start == period.start
                )
            ).scalars()
        )
        todo = [t for t in budget.thresholds if t not in seen]
        if not todo or budget.amount <= 0:
            continue
        used = spend(uc, budget)
        for t in todo:
            if used * 100 >= budget.amount * t:
                ev = BudgetEvent(
                    id=new_id(),
                    budget_id=budget.id,
                    period_start=period.start,
                    threshold=t,
                    spend=used,
                    at=uc.now,
                )
                uc.session.add(ev)
                out.append(ev)
                uc.audit(
                    "billing.budget.threshold",
                    "budget",
                    budget.id,
                    budget.org_id,
                    budget.org_path,
                    details={"threshold": t, "spend": str(used), "amount": str(budget.amount)},
                )
                if budget.webhook_url:
                    outbox.enqueue(
                        uc,
                        "budget.threshold",
                        ev.id,
                        budget.org_id,
                        budget.webhook_url,
                        {
                            "event": "budget.threshold",
                            "budget_id": budget.id,
                            "name": budget.name,
                            "threshold": t,
                            "spend": str(used),
                            "amount": str(budget.amount),
                            "period": period.label,
                        },
                    )
    uc.session.flush()
    return out


def events_of(uc: UseCase, budget_id: str) -> list[BudgetEvent]:
    budget = load(uc, budget_id)
    return list(
        uc.session.execute(
            select(BudgetEvent)
            .where(BudgetEvent.budget_id == budget.id)
            .order_by(BudgetEvent.at, BudgetEvent.threshold)
        ).scalars()
    )
