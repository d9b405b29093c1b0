"""Metering: one usage event per instance state change, in the same transaction as the change.

``instance_changed`` is called by compute wherever an instance's stored state moves (create, user
actions, the agent's reports, build timeouts). It is idempotent: a call that repeats the instance's
last metered state records nothing, and the ``(instance_id, seq)`` unique key makes two concurrent
writers of the same transition fail instead of counting twice.

``reconcile`` compares the last metered state of every instance with its stored state (what the
agents observed) and records a *correction* event where they disagree, so a state change that
bypassed metering is billed from the moment it was noticed, never twice.

``sample_storage`` records, once per hourly slot, the bytes of stored images of each organisation
(``storage_samples``); the ``(org, product, region, slot)`` unique key makes a repeated or
concurrent run write nothing more. Each sample bills its whole slot.

``period_usage`` reads back a billing period (instance segments and storage samples) for rating.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hexagone.billing import periods
from hexagone.billing.rating import Usage
from hexagone.db.billing_models import StorageSample, UsageEvent
from hexagone.db.compute_models import Flavor, Image, Instance
from hexagone.db.models import Organisation, Region
from hexagone.usecase import UseCase

CACHE_KEYS = ("billing_last_event", "billing_flavor_names", "billing_counters")
#: The product stored images are billed under (GB-month, priced in the wholesale list).
IMAGE_PRODUCT = "image.gb"
#: Image statuses whose bytes are stored and billed: a queued/saving image has no data yet, a
#: killed or deleted one no longer has any. Operator system images (no owner) are not billed.
STORED_IMAGE_STATUSES = ("active",)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_: Any) -> None:
    """The per-transaction memory of ``_last`` ends with the transaction."""
    for key in CACHE_KEYS:
        session.info.pop(key, None)


def instance_product(flavor_name: str) -> str:
    return f"instance.{flavor_name}"


def _last(uc: UseCase, instance_id: str) -> tuple[int, str] | None:
    """The instance's last metered (seq, state). Remembered for the rest of the transaction, so a
    burst of transitions costs one query per instance (and no flush in between)."""
    cache: dict[str, tuple[int, str] | None] = uc.session.info.setdefault("billing_last_event", {})
    if instance_id in cache:
        return cache[instance_id]
    with uc.session.no_autoflush:
        row = uc.session.execute(
            select(UsageEvent.seq, UsageEvent.state)
            .where(UsageEvent.instance_id == instance_id)
            .order_by(UsageEvent.seq.desc())
            .limit(1)
        ).first()
    cache[instance_id] = (row.seq, row.state) if row else None
    return cache[instance_id]


def _product(uc: UseCase, flavor_id: str) -> str:
    names: dict[str, str] = uc.session.info.setdefault("billing_flavor_names", {})
    if flavor_id not in names:
        name = uc.session.execute(select(Flavor.name).where(Flavor.id == flavor_id)).scalar()
        names[flavor_id] = instance_product(name or flavor_id)
    return names[flavor_id]


def _record(uc: UseCase, inst: Instance, before: str, after: str, kind: str) -> bool:
    last = _last(uc, inst.id)
    if last is not None and last[1] == after:
        return False  # already metered: a duplicate delivery
    seq = (last[0] if last else 0) + 1
    uc.session.add(
        UsageEvent(
            instance_id=inst.id,
            seq=seq,
            at=periods.floor_second(uc.now),
            state=after,
            prev_state=before,
            kind=kind,
            product=_product(uc, inst.flavor_id),
            project_id=inst.project_id,
            org_id=inst.org_id,
            org_path=inst.org_path,
            region_id=inst.region_id,
        )
    )
    uc.session.info["billing_last_event"][inst.id] = (seq, after)
    return True


def instance_changed(uc: UseCase, inst: Instance, before: str | None, after: str) -> None:
    """Meter ``inst`` moving from ``before`` (None: just created) to ``after``."""
    if before == after:
        return
    _record(uc, inst, before or "", after, "transition")


@dataclass(frozen=True)
class Correction:
    instance_id: str
    metered: str
    stored: str


def reconcile(uc: UseCase) -> list[Correction]:
    """Record a correction event for every instance whose last metered state differs from its
    stored state (or that was never metered). Safe to repeat: a second run finds nothing."""
    last_seq = (
        select(UsageEvent.instance_id, func.max(UsageEvent.seq).label("seq"))
        .group_by(UsageEvent.instance_id)
        .subquery()
    )
    metered = dict(
        uc.session.execute(
            select(UsageEvent.instance_id, UsageEvent.state).join(
                last_seq,
                and_(last_seq.c.instance_id == UsageEvent.instance_id, last_seq.c.seq == UsageEvent.seq),
            )
        ).all()
    )
    out = []
    for inst in uc.session.execute(select(Instance)).scalars():
        known = metered.get(inst.id)
        if known == inst.state or (known is None and inst.state == periods.TERMINAL):
            continue
        _record(uc, inst, known or "", inst.state, "correction")
        out.append(Correction(inst.id, known or "", inst.state))
    if out:
        uc.audit("billing.reconcile", "usage", None, None, "", details={"corrections": len(out)})
    return out


def period_events(
    uc: UseCase, period: periods.Period, org_path: str = "", project_id: str = ""
) -> list[UsageEvent]:
    """The events needed to meter ``period``: those inside it and, per instance, the last one
    before it (which says what state the instance entered the period in)."""
    scope = []
    if org_path:
        scope.append(UsageEvent.org_path.startswith(org_path, autoescape=True))
    if project_id:
        scope.append(UsageEvent.project_id == project_id)
    before = (
        select(UsageEvent.instance_id, func.max(UsageEvent.seq).label("seq"))
        .where(UsageEvent.at < period.start, *scope)
        .group_by(UsageEvent.instance_id)
        .subquery()
    )
    carried = (
        select(UsageEvent)
        .join(before, and_(before.c.instance_id == UsageEvent.instance_id, before.c.seq == UsageEvent.seq))
        .where(UsageEvent.state != periods.TERMINAL)
    )
    inside = select(UsageEvent).where(UsageEvent.at >= period.start, UsageEvent.at < period.end, *scope)
    rows = list(uc.session.execute(carried).scalars())
    rows += list(uc.session.execute(inside).scalars())
    return rows


def usage_of(
    events: Iterable[UsageEvent], period: periods.Period, until: dt.datetime | None = None
) -> list[Usage]:
    """Rating input: the period's segments of each instance, with what they are billed to."""
    events = list(events)
    info = {e.instance_id: e for e in events}
    end = min(period.end, until) if until else period.end
    segs = periods.segments((periods.Event(e.instance_id, e.seq, e.at, e.state) for e in events), end)
    out = []
    for s in segs:
        c = periods.clip(s, period)
        if c is None:
            continue
        e = info[s.instance_id]
        out.append(Usage(e.org_id, e.project_id, e.region_id, e.product, c.state, c.start, c.end))
    return out


def metered_seconds(uc: UseCase, period: periods.Period, org_path: str = "") -> dict[tuple[str, str], int]:
    """Seconds per (instance, state) inside ``period``: what the usage endpoint shows."""
    events = period_events(uc, period, org_path)
    segs = periods.segments(
        (periods.Event(e.instance_id, e.seq, e.at, e.state) for e in events),
        min(period.end, max(uc.now, period.start)),
    )
    out: dict[tuple[str, str], int] = {}
    for s in segs:
        c = periods.clip(s, period)
        if c is not None:
            out[(c.instance_id, c.state)] = out.get((c.instance_id, c.state), 0) + c.seconds
    return out


def sample_storage(uc: UseCase) -> int:
    """Record the bytes of stored images of every organisation for the current hourly slot.
    Idempotent per slot: the first run of the slot writes the samples, later (or concurrent) runs
    write nothing (``ON CONFLICT DO NOTHING`` on the slot's unique key). Returns rows written."""
    region_id = uc.session.execute(select(Region.id).where(Region.name == uc.settings.region)).scalar()
    if region_id is None:
        return 0
    slot = periods.slot_of(uc.now)
    rows = uc.session.execute(
        select(Image.owner_org_id, Organisation.path, func.sum(Image.size_bytes))
        .join(Organisation, Organisation.id == Image.owner_org_id)
        .where(Image.status.in_(STORED_IMAGE_STATUSES), Image.size_bytes > 0)
        .group_by(Image.owner_org_id, Organisation.path)
    ).all()
    values = [
        {
            "org_id": org_id,
            "org_path": path,
            "project_id": "",
            "product": IMAGE_PRODUCT,
            "region_id": region_id,
            "bytes": int(total),
            "slot": slot,
            "sampled_at": periods.floor_second(uc.now),
        }
        for org_id, path, total in rows
        if total
    ]
    if not values:
        return 0
    dialect = postgresql if uc.session.get_bind().dialect.name == "postgresql" else sqlite
    result = uc.session.execute(dialect.insert(StorageSample).values(values).on_conflict_do_nothing())
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def storage_usage(
    uc: UseCase,
    period: periods.Period,
    org_path: str = "",
    project_id: str = "",
    until: dt.datetime | None = None,
) -> list[Usage]:
    """Rating input: each storage sample of ``period`` bills its bytes over its slot (clipped to
    ``until`` for a month so far). Quantity-seconds are byte-seconds (exact integers)."""
    end = min(period.end, until) if until else period.end
    stmt = select(StorageSample).where(StorageSample.slot >= period.start, StorageSample.slot < end)
    if org_path:
        stmt = stmt.where(StorageSample.org_path.startswith(org_path, autoescape=True))
    if project_id:
        stmt = stmt.where(StorageSample.project_id == project_id)
    out = []
    for r in uc.session.execute(stmt).scalars():
        stop = min(r.slot + periods.SLOT, end)
        if stop > r.slot:
            out.append(Usage(r.org_id, r.project_id, r.region_id, r.product, "", r.slot, stop, Decimal(r.bytes)))
    return out


def period_usage(
    uc: UseCase,
    period: periods.Period,
    org_path: str = "",
    project_id: str = "",
    until: dt.datetime | None = None,
) -> list[Usage]:
    """Everything ``period`` rates: instance segments and storage samples."""
    events = period_events(uc, period, org_path, project_id)
    return usage_of(events, period, until) + storage_usage(uc, period, org_path, project_id, until)
