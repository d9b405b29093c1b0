"""Price lists: the operator's wholesale list per region, the retail rules of each issuer, the
billing chain of every organisation and the price shown before an instance is created.

A price list entry or a retail rule takes effect from its ``effective_from`` date, which may not be
in the past: a change is never retroactive, and entries already in effect are never edited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from hexagone.billing import rating
from hexagone.billing.metering import instance_product
from hexagone.db.billing_models import PriceEntry, RetailRule
from hexagone.db.models import Organisation, Region
from hexagone.errors import InvalidInput, NotPriced
from hexagone.identity.orgs import load_org, load_region, org_target, root_org
from hexagone.ids import new_id
from hexagone.usecase import UseCase

#: Billable products other than instances (``instance.<flavor>``), with their units. Products
#: whose resources do not exist yet are priced all the same, ready for them.
PRODUCTS: dict[str, str] = {
    "volume.gb": "gb_month",
    "object.gb": "gb_month",
    "image.gb": "gb_month",
    "ip.public": "hour",
    "egress.gb": "gb",
}
UNITS = ("hour", "gb_month", "gb")


def unit_of(product: str) -> str:
    if product.startswith("instance."):
        return "hour"
    if product in PRODUCTS:
        return PRODUCTS[product]
    raise InvalidInput(f"Unknown product '{product}': use instance.<flavor> or one of {', '.join(PRODUCTS)}.")


def to_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput(f'{what} must be given as a decimal string such as "0.0125", never a float.')
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput(f'{what} must be a decimal number such as "0.0125".') from exc
    if not d.is_finite() or d < 0 or d > Decimal("1e9"):
        raise InvalidInput(f"{what} must be a positive decimal number below one billion.")
    return d


def _not_past(uc: UseCase, when: dt.datetime | None) -> dt.datetime:
    when = when or uc.now
    if when.tzinfo is None:
        raise InvalidInput("effective_from must carry a time zone (e.g. 2026-04-01T00:00:00Z).")
    if when < uc.now.replace(microsecond=0):
        raise InvalidInput("A price change cannot be retroactive: effective_from must be now or later.")
    return when


def set_price(
    uc: UseCase,
    region: str,
    product: str,
    price: Any,
    effective_from: dt.datetime | None,
    bill_stopped: bool = False,
    currency: str = "EUR",
) -> PriceEntry:
    root = root_org(uc)
    uc.authorize_operator(org_target(root), "billing.write", doing="set the wholesale price list")
    reg = load_region(uc, region)
    when = _not_past(uc, effective_from)
    entry = PriceEntry(
        id=new_id(),
        region_id=reg.id,
        product=product,
        unit=unit_of(product),
        price=to_decimal(price, "price"),
        currency=currency,
        bill_stopped=bill_stopped,
        effective_from=when,
        created_at=uc.now,
        created_by=uc.actor.name,
    )
    existing = uc.session.execute(
        select(PriceEntry).where(
            PriceEntry.region_id == reg.id, PriceEntry.product == product, PriceEntry.effective_from == when
        )
    ).scalar()
    if existing is not None:
        raise InvalidInput("A price for this product, region and date already exists; choose another date.")
    uc.session.add(entry)
    uc.session.flush()
    uc.audit(
        "billing.price.set",
        "price",
        entry.id,
        root.id,
        root.path,
        details={
            "region": reg.name,
            "product": product,
            "price": str(entry.price),
            "effective_from": when.isoformat(),
            "bill_stopped": bill_stopped,
        },
    )
    return entry


def list_prices(uc: UseCase, region: str | None = None) -> list[PriceEntry]:
    stmt = select(PriceEntry).order_by(PriceEntry.region_id, PriceEntry.product, PriceEntry.effective_from)
    if region:
        stmt = stmt.where(PriceEntry.region_id == load_region(uc, region).id)
    return list(uc.session.execute(stmt).scalars())


def set_rule(
    uc: UseCase,
    issuer_id: str,
    kind: str,
    value: Any,
    effective_from: dt.datetime | None,
    product: str = "",
    region: str = "",
    customer_id: str = "",
) -> RetailRule:
    """A retail rule of ``issuer_id`` (the operator or a reseller) for its customers."""
    issuer = load_org(uc, issuer_id)
    uc.authorize(org_target(issuer), "billing.write", what="organisation")
    if issuer.kind not in ("operator", "reseller"):
        raise InvalidInput("Only the operator and resellers set retail prices; customers are billed.")
    if kind not in rating.RULE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(rating.RULE_KINDS)}.")
    amount = to_decimal(value, "value")
    if kind == "discount" and amount > 100:
        raise InvalidInput("A discount is a percentage between 0 and 100.")
    if kind == "price" and not product:
        raise InvalidInput("An explicit price names its product.")
    if product:
        unit_of(product)
    region_id = load_region(uc, region).id if region else ""
    if customer_id:
        child = load_org(uc, customer_id)
        uc.authorize(org_target(child), "org.read", what="organisation")  # another tenant's: as missing
        if child.parent_id != issuer.id:
            raise InvalidInput("A per-customer rule names a direct child organisation of the issuer.")
    when = _not_past(uc, effective_from)
    same = uc.session.execute(
        select(RetailRule.id).where(
            RetailRule.issuer_org_id == issuer.id, RetailRule.kind == kind, RetailRule.product == product,
            RetailRule.region_id == region_id, RetailRule.customer_org_id == customer_id,
            RetailRule.effective_from == when,
        )
    ).first()
    if same is not None:
        raise InvalidInput(
            "A rule of this kind, product, region and customer already starts then; choose another date."
        )
    rule = RetailRule(
        id=new_id(),
        issuer_org_id=issuer.id,
        kind=kind,
        product=product,
        region_id=region_id,
        customer_org_id=customer_id,
        value=amount,
        effective_from=when,
        created_at=uc.now,
    )
    uc.session.add(rule)
    uc.session.flush()
    uc.audit(
        "billing.rule.set",
        "retail_rule",
        rule.id,
        issuer.id,
        issuer.path,
        details={"kind": kind, "value": str(amount), "product": product, "customer": customer_id},
    )
    return rule


def list_rules(uc: UseCase, issuer_id: str) -> list[RetailRule]:
    issuer = load_org(uc, issuer_id)
    uc.authorize(org_target(issuer), "billing.read", what="organisation")
    return list(
        uc.session.execute(
            select(RetailRule)
            .where(RetailRule.issuer_org_id == issuer.id)
            .order_by(RetailRule.effective_from)
        ).scalars()
    )


def load_book(uc: UseCase) -> rating.PriceBook:
    entries = [
        rating.PriceEntry(e.region_id, e.product, e.effective_from, e.price, e.unit, e.bill_stopped)
        for e in uc.session.execute(select(PriceEntry)).scalars()
    ]
    rules = [
        rating.Rule(
            r.issuer_org_id, r.kind, r.value, r.effective_from, r.product, r.region_id, r.customer_org_id
        )
        for r in uc.session.execute(select(RetailRule)).scalars()
    ]
    return rating.PriceBook(entries, rules)


@dataclass(frozen=True)
class OrgInfo:
    id: str
    parent_id: str | None
    kind: str
    name: str
    path: str
    legal: dict[str, str]


def org_infos(uc: UseCase) -> dict[str, OrgInfo]:
    rows = uc.session.execute(select(Organisation)).scalars()
    return {o.id: OrgInfo(o.id, o.parent_id, o.kind, o.name, o.path, legal_of(o)) for o in rows}


def legal_of(o: Organisation) -> dict[str, str]:
    return {
        "id": o.id,
        "name": o.name,
        "legal_name": o.legal_name or o.name,
        "country": o.country,
        "vat_id": o.vat_id,
        "siren": o.siren,
        "siret": o.siret,
        "address": o.address,
        "kind": o.kind,
    }


def path_ids(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def chains(orgs: dict[str, OrgInfo]) -> dict[str, rating.Chain]:
    kinds = {o.id: o.kind for o in orgs.values()}
    return {o.id: rating.chain_for(path_ids(o.path), kinds) for o in orgs.values()}


def quote(uc: UseCase, flavor: str, region: str, org_id: str | None = None) -> dict[str, Any]:
    """What one instance of ``flavor`` costs the caller's organisation (or ``org_id``) now."""
    from hexagone.compute.flavors import usable_flavor

    principal = uc.require_principal()
    org = load_org(uc, org_id) if org_id else load_org(uc, principal.org_id)
    if org_id:
        uc.authorize(org_target(org), "org.read", what="organisation")
    fl = usable_flavor(uc, flavor, org.path)
    reg = load_region(uc, region) if region else load_region(uc, uc.settings.region)
    product = instance_product(fl.name)
    orgs = org_infos(uc)
    chain = chains(orgs)[org.id]
    book = load_book(uc)
    priced = book.chain_prices(chain, reg.id, product, uc.now)
    if priced is None:
        raise NotPriced(
            f"Flavor {fl.name} has no price in region {reg.name} yet: ask the operator to set one "
            f"(`hexagone billing price set --region {reg.name}`)."
        )
    entry, prices = priced
    price = prices[-1] if prices else entry.price
    q = rating.quote(price)
    return {
        "flavor": fl.name,
        "region": reg.name,
        "product": product,
        "currency": "EUR",
        "unit_price_per_hour": str(q["per_hour"]),
        "per_hour": str(rating.money(q["per_hour"])),
        "per_month": str(q["per_month"]),
        "hours_per_month": rating.HOURS_PER_MONTH,
        "stopped_billed": entry.bill_stopped,
        "vat_excluded": True,
    }


def region_names(uc: UseCase) -> dict[str, str]:
    return dict(uc.session.execute(select(Region.id, Region.name)).all())
