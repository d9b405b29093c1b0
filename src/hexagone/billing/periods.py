"""Billing periods and metered time. Pure: plain values in, plain values out.

Usage is metered from lifecycle *events*: "instance I entered state S at time T", numbered per
instance by ``seq`` (1, 2, 3, ...). The time between one event and the next is a *segment* spent in
the first event's state. Whole seconds only: event times are floored to the second when recorded,
so segments telescope and a second is never split, lost or counted twice.

``segments`` is robust to what real delivery does: the same event twice (dropped by its
``(instance, seq)`` key), events out of order (sorted by ``seq``), and clocks that disagree between
workers (a segment never starts before the previous one: times are made monotonic per instance).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

UTC = dt.UTC
TERMINAL = "DELETED"


@dataclass(frozen=True, order=True)
class Period:
    """A half-open interval of time ``[start, end)``: a billing month by default."""

    start: dt.datetime
    end: dt.datetime

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def floor_second(t: dt.datetime) -> dt.datetime:
    return t.replace(microsecond=0)


SLOT = dt.timedelta(hours=1)


def slot_of(t: dt.datetime) -> dt.datetime:
    """The storage sampling slot (the UTC hour) that contains ``t``. Months start on a slot
    boundary, so a slot always lies in exactly one month."""
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def month_of(t: dt.datetime) -> Period:
    """The calendar month (UTC) that contains ``t``."""
    t = t.astimezone(UTC)
    start = dt.datetime(t.year, t.month, 1, tzinfo=UTC)
    end = dt.datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


#: The months billing knows (also the API's schema pattern): 2000-01 to 2999-12.
MONTH_REGEX = r"^2[0-9]{3}-(0[1-9]|1[0-2])$"
MONTH_PATTERN = re.compile(MONTH_REGEX)


def parse_month(label: str) -> Period:
    """``"2026-03"`` -> March 2026 (UTC). Raises ValueError on anything else."""
    if not MONTH_PATTERN.match(label):
        raise ValueError(f"A month is written YYYY-MM, from 2000-01 to 2999-12, not {label!r}.")
    year, _, month = label.partition("-")
    return month_of(dt.datetime(int(year), int(month), 1, tzinfo=UTC))


def next_period(p: Period) -> Period:
    return month_of(p.end)


def months_between(start: dt.datetime, end: dt.datetime) -> Iterator[Period]:
    """Every month overlapping ``[start, end)``."""
    p = month_of(start)
    while p.start < end:
        yield p
        p = next_period(p)


@dataclass(frozen=True)
class Event:
    instance_id: str
    seq: int
    at: dt.datetime
    state: str


@dataclass(frozen=True)
class Segment:
    """``instance_id`` spent ``[start, end)`` in ``state``."""

    instance_id: str
    state: str
    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def segments(events: Iterable[Event], until: dt.datetime) -> list[Segment]:
    """The segments the events describe, up to ``until`` (the last state of a live instance lasts
    until then). Duplicates are dropped, order is restored, zero-length segments are omitted, and
    nothing is counted after DELETED or after ``until``."""
    by_instance: dict[str, dict[int, Event]] = {}
    for e in events:
        by_instance.setdefault(e.instance_id, {}).setdefault(e.seq, e)
    out: list[Segment] = []
    for iid, evs in by_instance.items():
        ordered = [evs[k] for k in sorted(evs)]
        prev_at: dt.datetime | None = None
        times = []
        for e in ordered:
            at = floor_second(e.at) if prev_at is None else max(prev_at, floor_second(e.at))
            times.append(at)
            prev_at = at
        for i, e in enumerate(ordered):
            if e.state == TERMINAL:
                continue
            start = times[i]
            end = times[i + 1] if i + 1 < len(ordered) else until
            end = min(end, until)
            if end > start:
                out.append(Segment(iid, e.state, start, end))
    return out


def clip(seg: Segment, period: Period) -> Segment | None:
    """The part of ``seg`` inside ``period`` (None when they do not overlap)."""
    start = max(seg.start, period.start)
    end = min(seg.end, period.end)
    if end <= start:
        return None
    return Segment(seg.instance_id, seg.state, start, end)


def split_at(
    start: dt.datetime, end: dt.datetime, points: Iterable[dt.datetime]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, end)`` cut at every point strictly inside it."""
    cuts = sorted({p for p in points if start < p < end})
    bounds = [start, *cuts, end]
    return list(zip(bounds, bounds[1:], strict=False))
