"""Rating: metered usage × price lists -> invoice line quantities. Pure: no database, no clock.

Prices
    The operator's *wholesale* list gives, per region and product, a price per unit from an
    effective date on (a change applies from its date, never before). For instance products the
    entry also says whether STOPPED time is billed.

Who pays what (one ``Edge`` per level of the organisation tree, from the operator down)
    operator -> reseller        wholesale, always
    operator -> direct customer the operator's own retail rules over wholesale (the public price)
    reseller -> its child       the reseller's retail rules over what the reseller itself pays
                                (a sub-reseller is a child like any other: "one level down")

Retail rules (``Rule``), each effective from a date
    ``price``    an explicit price per unit for a product (replaces the base)
    ``markup``   a percentage over the base
    ``discount`` a percentage off, usually for one customer
    The most specific rule of each kind wins (customer + product > customer > product > any);
    among equally specific ones, the latest effective. A discount applies after price or markup.
    Unit prices are kept to 6 decimals; amounts are rounded to the cent once, per invoice line.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from hexagone.billing.periods import split_at

CENT = Decimal("0.01")
PRICE_Q = Decimal("0.000001")
QTY_Q = Decimal("0.000001")
HOURS_PER_MONTH = 730
UNIT_SECONDS: dict[str, int] = {"hour": 3600, "gb_month": HOURS_PER_MONTH * 3600}
GIB = 2**30
#: What one billed unit is worth in a line's accumulated quantity-seconds: seconds for an hour;
#: byte-seconds for a GB-month (storage is metered in bytes, a GB is a GiB, a month 730 hours).
#: Integers, so accumulation is exact and the only rounding is the line's, once.
UNIT_DIVISOR: dict[str, int] = {"hour": 3600, "gb_month": GIB * HOURS_PER_MONTH * 3600}
#: Quantity-seconds as stored on an invoice line (informational): seconds, or GiB-seconds.
STORED_SCALE: dict[str, int] = {"hour": 1, "gb_month": GIB}
ACTIVE_STATES = frozenset({"RUNNING", "REBOOTING"})
STOPPED = "STOPPED"
RULE_KINDS = ("price", "markup", "discount")
NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def money(value: Decimal) -> Decimal:
    """Round an amount to the cent, half up (the rounding of French invoices)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def amount_text(value: Decimal) -> str:
    """An amount as shown everywhere: two decimals, whatever the database returned."""
    return str(money(value))


def plain_text(value: Decimal) -> str:
    """A quantity or unit price without trailing zeros and never in exponent form."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def unit_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_Q, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PriceEntry:
    region: str
    product: str
    effective_from: dt.datetime
    price: Decimal
    unit: str = "hour"
    bill_stopped: bool = False


@dataclass(frozen=True)
class Rule:
    issuer: str
    kind: str
    value: Decimal
    effective_from: dt.datetime
    product: str = ""
    region: str = ""
    customer: str = ""

    def matches(self, account: str, region: str, product: str, t: dt.datetime) -> bool:
        return (
            self.effective_from <= t
            and self.product in ("", product)
            and self.region in ("", region)
            and self.customer in ("", account)
        )

    def rank(self) -> tuple[int, int, int, dt.datetime]:
        return (bool(self.customer), bool(self.product), bool(self.region), self.effective_from)


@dataclass(frozen=True)
class Edge:
    """``issuer`` bills ``account``; ``wholesale``: at the operator's wholesale price, no rules."""

    issuer: str
    account: str
    wholesale: bool = False


Chain = tuple[Edge, ...]


def chain_for(path_ids: list[str], kinds: Mapping[str, str]) -> Chain:
    """The billing edges from the operator down to the last organisation of ``path_ids``
    (the ids of an organisation path, root first)."""
    edges = []
    for parent, child in zip(path_ids, path_ids[1:], strict=False):
        wholesale = kinds.get(parent) == "operator" and kinds.get(child) == "reseller"
        edges.append(Edge(parent, child, wholesale))
    return tuple(edges)


@dataclass
class PriceBook:
    entries: list[PriceEntry]
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._entries: dict[tuple[str, str], list[PriceEntry]] = defaultdict(list)
        for e in sorted(self.entries, key=lambda e: e.effective_from):
            self._entries[(e.region, e.product)].append(e)
        self._starts = {k: [e.effective_from for e in v] for k, v in self._entries.items()}
        self._rules: dict[str, list[Rule]] = defaultdict(list)
        for r in self.rules:
            self._rules[r.issuer].append(r)

    def wholesale_at(self, region: str, product: str, t: dt.datetime) -> PriceEntry | None:
        starts = self._starts.get((region, product))
        if not starts:
            return None
        i = bisect_right(starts, t) - 1
        return self._entries[(region, product)][i] if i >= 0 else None

    def edge_price(self, edge: Edge, region: str, product: str, base: Decimal, t: dt.datetime) -> Decimal:
        if edge.wholesale:
            return base
        best: dict[str, Rule] = {}
        for r in self._rules.get(edge.issuer, ()):
            if r.matches(edge.account, region, product, t) and (
                r.kind not in best or r.rank() > best[r.kind].rank()
            ):
                best[r.kind] = r
        price = base
        if "price" in best:
            price = best["price"].value
        elif "markup" in best:
            price = base * (1 + best["markup"].value / 100)
        if "discount" in best:
            price = price * (1 - best["discount"].value / 100)
        return unit_price(price)

    def chain_prices(
        self, chain: Chain, region: str, product: str, t: dt.datetime
    ) -> tuple[PriceEntry, tuple[Decimal, ...]] | None:
        entry = self.wholesale_at(region, product, t)
        if entry is None:
            return None
        prices = []
        base = entry.price
        for edge in chain:
            base = self.edge_price(edge, region, product, base, t)
            prices.append(base)
        return entry, tuple(prices)

    def breakpoints(self, chain: Chain, region: str, product: str) -> list[dt.datetime]:
        points = set(self._starts.get((region, product), ()))
        for edge in chain:
            points.update(r.effective_from for r in self._rules.get(edge.issuer, ()))
        return sorted(points)


@dataclass(frozen=True)
class Usage:
    """``quantity`` units of ``product`` held by ``project`` of ``customer`` over ``[start, end)``.
    ``state`` is the instance state (empty for non-instance products: always billed)."""

    customer: str
    project: str
    region: str
    product: str
    state: str
    start: dt.datetime
    end: dt.datetime
    quantity: Decimal = Decimal(1)


@dataclass(frozen=True, order=True)
class LineKey:
    issuer: str
    account: str
    customer: str
    project: str
    region: str
    product: str
    label: str  # "running", "stopped" or ""
    unit: str
    unit_price: Decimal


@dataclass
class Rated:
    """Quantity-seconds per invoice line, and what could not be priced."""

    lines: dict[LineKey, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    unpriced: set[tuple[str, str]] = field(default_factory=set)

    def amount(self, key: LineKey) -> Decimal:
        return line_amount(self.lines[key], key.unit_price, key.unit)


def billed_label(state: str, entry: PriceEntry) -> str | None:
    """Whether time in ``state`` is billed under ``entry``, and how the line calls it."""
    if state == "":
        return ""
    if state in ACTIVE_STATES:
        return "running"
    if state == STOPPED and entry.bill_stopped:
        return "stopped"
    return None


def rate(usages: Iterable[Usage], chains: Mapping[str, Chain], book: PriceBook) -> Rated:
    """Rate every usage at every level of its customer's chain."""
    out = Rated()
    cache: dict[tuple[str, str, str, int], tuple[PriceEntry, tuple[Decimal, ...]] | None] = {}
    points: dict[tuple[str, str, str], list[dt.datetime]] = {}
    for u in usages:
        chain = chains[u.customer]
        pkey = (u.customer, u.region, u.product)
        bps = points.get(pkey)
        if bps is None:
            bps = points[pkey] = book.breakpoints(chain, u.region, u.product)
        for start, end in split_at(u.start, u.end, bps):
            slot = bisect_right(bps, start)
            ckey = (u.customer, u.region, u.product, slot)
            if ckey not in cache:
                cache[ckey] = book.chain_prices(chain, u.region, u.product, start)
            priced = cache[ckey]
            if priced is None:
                out.unpriced.add((u.region, u.product))
                continue
            entry, prices = priced
            label = billed_label(u.state, entry)
            if label is None:
                continue
            qs = u.quantity * int((end - start).total_seconds())
            for edge, price in zip(chain, prices, strict=True):
                key = LineKey(
                    edge.issuer,
                    edge.account,
                    u.customer,
                    u.project,
                    u.region,
                    u.product,
                    label,
                    entry.unit,
                    price,
                )
                out.lines[key] += qs
    return out


def line_quantity(quantity_seconds: Decimal, unit: str) -> Decimal:
    """Quantity shown on the line, in the unit of the price (hours, GB-months)."""
    return (quantity_seconds / UNIT_DIVISOR[unit]).quantize(QTY_Q, rounding=ROUND_HALF_UP)


def line_amount(quantity_seconds: Decimal, price: Decimal, unit: str) -> Decimal:
    """The line's amount: exact quantity-seconds × price per unit, rounded once to the cent."""
    return money(quantity_seconds * price / UNIT_DIVISOR[unit])


def stored_quantity_seconds(quantity_seconds: Decimal, unit: str) -> Decimal:
    """The line's quantity-seconds as kept on the invoice line: seconds for hours, GiB-seconds
    for GB-months (byte-seconds would not fit the column), to 6 decimals."""
    scale = STORED_SCALE.get(unit, 1)
    if scale == 1:
        return quantity_seconds
    return (quantity_seconds / scale).quantize(QTY_Q, rounding=ROUND_HALF_UP)


def gb_months(samples: Iterable[tuple[int, int]]) -> Decimal:
    """Exact GB-months of storage samples ``(bytes, seconds covered)``: the sum of
    bytes / GiB × hours / 730. Not rounded (lines round their amount once)."""
    return Decimal(sum(b * s for b, s in samples)) / UNIT_DIVISOR["gb_month"]


def quote(price: Decimal, unit: str = "hour") -> dict[str, Decimal]:
    """Price per hour and per month (730 h) of one unit, to the cent for the month."""
    per_hour = price * 3600 / UNIT_SECONDS[unit]
    return {"per_hour": unit_price(per_hour), "per_month": money(per_hour * HOURS_PER_MONTH)}
