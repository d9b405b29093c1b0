"""Pure billing rules: periods and segments, rating, VAT. Property-based where it matters."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexagone.billing import periods, rating, vat
from hexagone.billing.periods import Event, Period

pytestmark = pytest.mark.unit
UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
STATES = ("BUILDING", "RUNNING", "STOPPED", "REBOOTING", "ERROR", "DELETING")


def test_months_are_calendar_months_in_utc():
    p = periods.parse_month("2026-02")
    assert (p.start, p.end) == (dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 3, 1, tzinfo=UTC))
    assert p.seconds == 28 * 86400
    assert periods.month_of(dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)).end == dt.datetime(
        2027, 1, 1, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        periods.parse_month("2026-3")


def test_segments_drop_duplicates_restore_order_and_stop_at_deleted():
    evs = [
        Event("i", 2, T0 + dt.timedelta(seconds=10), "RUNNING"),
        Event("i", 1, T0, "BUILDING"),
        Event("i", 2, T0 + dt.timedelta(seconds=10), "RUNNING"),
        Event("i", 3, T0 + dt.timedelta(seconds=70, microseconds=900), "DELETED"),
    ]
    segs = periods.segments(evs, T0 + dt.timedelta(days=1))
    assert [(s.state, s.seconds) for s in segs] == [("BUILDING", 10), ("RUNNING", 60)]


def test_a_clock_running_backwards_never_makes_negative_time():
    evs = [Event("i", 1, T0 + dt.timedelta(seconds=50), "RUNNING"), Event("i", 2, T0, "STOPPED")]
    segs = periods.segments(evs, T0 + dt.timedelta(seconds=100))
    assert sum(s.seconds for s in segs) == 50
    assert [s.state for s in segs] == ["STOPPED"]


@st.composite
def lifecycles(draw):
    """Instances with random transitions (whole or fractional seconds apart), possibly deleted."""
    out = []
    for n in range(draw(st.integers(1, 4))):
        t = T0 + dt.timedelta(
            seconds=draw(st.integers(0, 90 * 86400)), microseconds=draw(st.integers(0, 999_999))
        )
        evs = [Event(f"i{n}", 1, t, "BUILDING")]
        for seq in range(2, draw(st.integers(1, 8)) + 1):
            t = t + dt.timedelta(
                seconds=draw(st.integers(0, 40 * 86400)), microseconds=draw(st.integers(0, 999_999))
            )
            evs.append(Event(f"i{n}", seq, t, draw(st.sampled_from(STATES))))
        if draw(st.booleans()):
            t = t + dt.timedelta(seconds=draw(st.integers(0, 10 * 86400)))
            evs.append(Event(f"i{n}", len(evs) + 1, t, "DELETED"))
        out.append(evs)
    return out


@settings(max_examples=150, deadline=None)
@given(lifecycles(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_metered_seconds_equal_existence_whatever_order_duplicates_and_periods(lives, rnd, dups):
    """Property: summed over every month (period boundaries), the metered seconds of each
    instance equal the seconds it existed, with events shuffled and delivered several times, and
    metering restarted (re-read from the log) for each period."""
    until = T0 + dt.timedelta(days=400)
    events = [e for life in lives for e in life]
    events = events + [rnd.choice(events) for _ in range(dups * len(events))]
    rnd.shuffle(events)
    total: dict[str, int] = {}
    for p in periods.months_between(T0, until):
        for seg in periods.segments(list(events), until):  # a fresh read per period: a restart
            c = periods.clip(seg, p)
            if c is not None:
                total[c.instance_id] = total.get(c.instance_id, 0) + c.seconds
    for life in lives:
        start = periods.floor_second(life[0].at)
        end = periods.floor_second(life[-1].at) if life[-1].state == "DELETED" else until
        assert total.get(life[0].instance_id, 0) == int((end - start).total_seconds())


def _book(markup: str = "20", discount: str = "10") -> rating.PriceBook:
    entries = [
        rating.PriceEntry("r", "instance.small", T0, Decimal("0.0100")),
        rating.PriceEntry("r", "instance.small", T0 + dt.timedelta(days=15), Decimal("0.0120")),
        rating.PriceEntry("r", "instance.big", T0, Decimal("0.0400"), bill_stopped=True),
    ]
    rules = [
        rating.Rule("res", "markup", Decimal(markup), T0),
        rating.Rule("res", "discount", Decimal(discount), T0, customer="c2"),
        rating.Rule("op", "markup", Decimal("25"), T0),
        rating.Rule("res", "price", Decimal("0.0500"), T0, product="instance.big", customer="c3"),
    ]
    return rating.PriceBook(entries, rules)


KINDS = {
    "op": "operator",
    "res": "reseller",
    "c1": "customer",
    "c2": "customer",
    "c3": "customer",
    "d": "customer",
}
CHAINS = {c: rating.chain_for(["op", "res", c], KINDS) for c in ("c1", "c2", "c3")} | {
    "d": rating.chain_for(["op", "d"], KINDS)
}


def test_chain_prices_wholesale_markup_discount_and_explicit():
    book = _book()
    t = T0 + dt.timedelta(days=1)
    assert book.chain_prices(CHAINS["c1"], "r", "instance.small", t)[1] == (Decimal("0.01"), Decimal("0.012"))
    assert book.chain_prices(CHAINS["c2"], "r", "instance.small", t)[1] == (
        Decimal("0.01"),
        Decimal("0.0108"),
    )
    assert book.chain_prices(CHAINS["c3"], "r", "instance.big", t)[1] == (Decimal("0.04"), Decimal("0.05"))
    assert book.chain_prices(CHAINS["d"], "r", "instance.small", t)[1] == (Decimal("0.0125"),)
    later = T0 + dt.timedelta(days=20)
    assert book.chain_prices(CHAINS["c1"], "r", "instance.small", later)[1] == (
        Decimal("0.012"),
        Decimal("0.0144"),
    )
    assert book.chain_prices(CHAINS["c1"], "r", "instance.small", T0 - dt.timedelta(seconds=1)) is None


def test_a_price_change_splits_the_usage_at_its_date_never_before():
    usage = rating.Usage(
        "d", "p", "r", "instance.small", "RUNNING", T0 + dt.timedelta(days=14), T0 + dt.timedelta(days=16)
    )
    rated = rating.rate([usage], CHAINS, _book())
    got = {(k.unit_price, v) for k, v in rated.lines.items()}
    assert got == {(Decimal("0.0125"), Decimal(86400)), (Decimal("0.015"), Decimal(86400))}


def test_stopped_time_is_billed_only_where_the_flavor_says_so():
    stopped = [
        rating.Usage("d", "p", "r", prod, "STOPPED", T0, T0 + dt.timedelta(hours=10))
        for prod in ("instance.small", "instance.big")
    ]
    rated = rating.rate(stopped, CHAINS, _book())
    assert {k.product for k in rated.lines} == {"instance.big"}
    assert all(k.label == "stopped" for k in rated.lines)
    building = rating.Usage("d", "p", "r", "instance.big", "BUILDING", T0, T0 + dt.timedelta(hours=1))
    assert not rating.rate([building], CHAINS, _book()).lines


def test_unpriced_usage_is_reported_not_silently_free():
    u = rating.Usage("d", "p", "r", "instance.unknown", "RUNNING", T0, T0 + dt.timedelta(hours=1))
    assert rating.rate([u], CHAINS, _book()).unpriced == {("r", "instance.unknown")}


def test_line_amounts_round_once_half_up():
    assert rating.line_amount(Decimal(1_259_700), Decimal("0.0125"), "hour") == Decimal("4.37")
    assert rating.line_amount(Decimal(1800), Decimal("0.01"), "hour") == Decimal("0.01")  # 0.005 -> 0.01
    assert rating.quote(Decimal("0.0125")) == {"per_hour": Decimal("0.012500"), "per_month": Decimal("9.13")}


usages_st = st.lists(
    st.builds(
        rating.Usage,
        customer=st.sampled_from(["c1", "c2", "c3", "d"]),
        project=st.sampled_from(["p1", "p2"]),
        region=st.just("r"),
        product=st.sampled_from(["instance.small", "instance.big"]),
        state=st.sampled_from(["RUNNING", "STOPPED", "REBOOTING"]),
        start=st.integers(0, 40 * 86400).map(lambda s: T0 + dt.timedelta(seconds=s)),
        end=st.just(T0 + dt.timedelta(days=41)),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None)
@given(usages_st, st.decimals(0, 100, places=2), st.decimals(0, 50, places=2))
def test_invoices_sum_their_rated_lines_and_margin_is_retail_minus_wholesale(usages, markup, discount):
    """Properties: every account's invoice net is the sum of its rated lines (each rounded once),
    within half a cent per line of the exact value; the reseller's margin is exactly its retail
    revenue minus its wholesale cost; and the seconds billed are the same at every level."""
    rated = rating.rate(usages, CHAINS, _book(str(markup), str(discount)))
    by_account: dict[tuple[str, str], list[rating.LineKey]] = {}
    for k in rated.lines:
        by_account.setdefault((k.issuer, k.account), []).append(k)
    for keys in by_account.values():
        lines = [rated.amount(k) for k in keys]
        exact = sum(rated.lines[k] * k.unit_price / 3600 for k in keys)
        net = vat.totals(lines, vat.treatment("FR", "FR", "")).net
        assert net == sum(lines)
        assert abs(net - exact) <= Decimal("0.005") * len(keys)
    retail = sum((rated.amount(k) for k in rated.lines if k.issuer == "res"), Decimal(0))
    wholesale = sum((rated.amount(k) for k in rated.lines if k.account == "res"), Decimal(0))
    margin = sum((rated.amount(k) for k in rated.lines if k.issuer == "res"), Decimal(0)) - wholesale
    assert margin == retail - wholesale
    seconds = {}
    for k, qs in rated.lines.items():
        seconds.setdefault(k.issuer == "res", Decimal(0))
        seconds[k.issuer == "res"] += qs if k.customer != "d" else 0
    if seconds:
        assert seconds.get(True, 0) == seconds.get(False, 0)


@pytest.mark.parametrize(
    ("issuer", "country", "vat_id", "category", "rate"),
    [
        ("FR", "FR", "", "S", "20"),
        ("FR", "FR", "FR40303265045", "S", "20"),
        ("FR", "BE", "BE0123456789", "AE", "0"),
        ("FR", "BE", "", "S", "21"),  # a consumer elsewhere in the EU: OSS, that country's rate
        ("FR", "BE", "DE123456789", "S", "21"),  # a VAT id of another country does not count
        ("FR", "GR", "EL123456789", "AE", "0"),
        ("FR", "US", "", "E", "0"),
        ("FR", "CH", "CHE123456789", "E", "0"),
        ("DE", "DE", "", "S", "19"),
        ("US", "FR", "", "O", "0"),
    ],
)
def test_vat_treatment(issuer, country, vat_id, category, rate):
    t = vat.treatment(issuer, country, vat_id)
    assert (t.category, t.rate) == (category, Decimal(rate))
    if category in ("AE", "E"):
        assert t.note


def test_vat_is_computed_once_on_the_net():
    t = vat.treatment("FR", "FR", "")
    tot = vat.totals([Decimal("0.01")] * 3, t)  # 3 × 0.002 would round to 0; 0.006 rounds to 0.01
    assert (tot.net, tot.vat, tot.gross) == (Decimal("0.03"), Decimal("0.01"), Decimal("0.04"))


def test_shuffled_rating_is_order_independent():
    rnd = random.Random(4)
    us = [
        rating.Usage(
            c, "p", "r", "instance.small", "RUNNING", T0 + dt.timedelta(hours=h), T0 + dt.timedelta(days=30)
        )
        for c in ("c1", "c2", "d")
        for h in range(0, 500, 37)
    ]
    a = rating.rate(us, CHAINS, _book()).lines
    rnd.shuffle(us)
    assert rating.rate(us, CHAINS, _book()).lines == a


def test_period_label():
    assert Period(T0, T0 + dt.timedelta(days=31)).label == "2026-01"


# --- storage (GB-month from hourly samples) ---------------------------------------------------

GIB = 2**30


def test_sampling_slots_are_utc_hours_inside_one_month():
    t = dt.datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert periods.slot_of(t) == dt.datetime(2026, 3, 31, 23, tzinfo=UTC)
    assert periods.slot_of(t) + periods.SLOT == periods.month_of(t).end
    paris = dt.timezone(dt.timedelta(hours=2))
    assert periods.slot_of(dt.datetime(2026, 4, 1, 1, 30, tzinfo=paris)) == dt.datetime(2026, 3, 31, 23, tzinfo=UTC)


def test_gb_months_are_gib_times_hours_over_730_exactly():
    assert rating.gb_months([(GIB, 730 * 3600)]) == 1
    assert rating.gb_months([(GIB, 3600)] * 730) == 1  # 730 hourly samples of 1 GiB
    assert rating.gb_months([(10 * GIB, 3600)] * 73) == 1  # average 10 GiB over 73 hours
    assert rating.gb_months([(GIB, 744 * 3600)]) == Decimal(744) / 730  # a full 31-day month
    # a byte is a byte: no rounding before the line's own
    odd = 1_234_567_891
    exact = Decimal(odd) * 3600 / (GIB * 730 * 3600)
    assert rating.gb_months([(odd, 3600)]) == exact
    assert rating.gb_months([]) == 0


def test_storage_lines_are_byte_seconds_rounded_once_at_every_level():
    book = rating.PriceBook(
        [rating.PriceEntry("r", "image.gb", T0, Decimal("0.05"), unit="gb_month")],
        [
            rating.Rule("res", "markup", Decimal("20"), T0),
            rating.Rule("res", "discount", Decimal("10"), T0, customer="c2"),
            rating.Rule("op", "price", Decimal("0.07"), T0, product="image.gb"),
        ],
    )
    size = 3 * GIB + 12345  # not a whole number of GiB
    hours = 500
    usages = [
        rating.Usage(c, "", "r", "image.gb", "", T0 + dt.timedelta(hours=h), T0 + dt.timedelta(hours=h + 1),
                     Decimal(size))
        for c in ("c1", "c2", "d")
        for h in range(hours)
    ]
    rated = rating.rate(usages, CHAINS, book)
    prices = {(k.issuer, k.account): k.unit_price for k in rated.lines}
    assert prices == {
        ("op", "res"): Decimal("0.05"),  # wholesale
        ("res", "c1"): Decimal("0.06"),  # + 20 %
        ("res", "c2"): Decimal("0.054"),  # + 20 %, - 10 %
        ("op", "d"): Decimal("0.07"),  # the operator's explicit public price
    }
    gbm = rating.gb_months([(size, 3600)] * hours)
    for k, qs in rated.lines.items():
        assert k.unit == "gb_month" and k.label == ""
        assert qs == Decimal(size) * 3600 * hours  # one line per end customer, at every level
        assert rated.amount(k) == rating.money(gbm * k.unit_price)
        assert rating.line_quantity(qs, k.unit) == gbm.quantize(rating.QTY_Q)
    d = next(k for k in rated.lines if k.account == "d")
    # by hand: (3 GiB + 12345 B) × 500 h / 730 h = 2.054796... GB-months × 0.07 = 0.1438... -> 0.14
    assert rating.line_amount(rated.lines[d], d.unit_price, d.unit) == Decimal("0.14")
    assert rating.stored_quantity_seconds(rated.lines[d], d.unit) == (
        Decimal(size) * 3600 * hours / GIB
    ).quantize(rating.QTY_Q)
