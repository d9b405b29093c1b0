"""Atomic placement: pure filtering and weighing (``scheduler``), then a conditional UPDATE that
claims capacity only if it is still free — so concurrent creates can never overcommit a host."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from hexagone.compute.scheduler import HostView, Request, place
from hexagone.db.compute_models import Host, Instance
from hexagone.db.models import Region
from hexagone.errors import NoValidHost
from hexagone.usecase import UseCase

COLUMNS = (
    Host.id, Host.region_id, Host.zone_id, Host.status, Host.vcpus, Host.ram_mb, Host.disk_gb,
    Host.vcpus_used, Host.ram_mb_used, Host.disk_gb_used, Host.cpu_ratio, Host.ram_ratio,
    Host.disk_ratio, Host.capabilities,
)
SHORTLIST = 32


def _views(rows: Any, country: str) -> list[HostView]:
    return [
        HostView(r.id, r.region_id, r.zone_id, country, r.status, r.vcpus, r.ram_mb, r.disk_gb, r.vcpus_used,
                 r.ram_mb_used, r.disk_gb_used, r.cpu_ratio, r.ram_ratio, r.disk_ratio, r.capabilities or {})
        for r in rows
    ]


def shortlist(uc: UseCase, req: Request, strategy: str, country: str) -> list[HostView]:
    """The best few hosts, filtered and ordered by the database itself (status, zone, capacity with
    overcommit, anti-affinity/affinity, then the weigher), so a placement among 10,000 hosts reads a
    handful of rows. The pure filters then run again on this shortlist (capabilities, residency)."""
    free_ram_share = (Host.ram_mb * Host.ram_ratio - Host.ram_mb_used) / func.nullif(Host.ram_mb * Host.ram_ratio, 0)
    stmt = select(*COLUMNS).where(
        Host.region_id == req.region_id,
        Host.status == "up",
        Host.vcpus_used + req.vcpus <= Host.vcpus * Host.cpu_ratio,
        Host.ram_mb_used + req.ram_mb <= Host.ram_mb * Host.ram_ratio,
        Host.disk_gb_used + req.disk_gb <= Host.disk_gb * Host.disk_ratio,
    )
    if req.zone_id:
        stmt = stmt.where(Host.zone_id == req.zone_id)
    if req.avoid_hosts:
        stmt = stmt.where(Host.id.not_in(sorted(req.avoid_hosts)))
    if req.same_hosts:
        stmt = stmt.where(Host.id.in_(sorted(req.same_hosts)))
    order = free_ram_share.desc() if strategy == "spread" else free_ram_share.asc()
    return _views(uc.session.execute(stmt.order_by(order, Host.id).limit(SHORTLIST)).all(), country)


def host_views(uc: UseCase, region_id: str) -> list[HostView]:
    """Snapshots of every host of the region (the slow path: explaining a NoValidHost, or a
    shortlist that the pure filters emptied)."""
    country = uc.session.execute(select(Region.country).where(Region.id == region_id)).scalar_one()
    rows = uc.session.execute(select(*COLUMNS).where(Host.region_id == region_id)).all()
    return _views(rows, country)


def claim(uc: UseCase, host_id: str, vcpus: int, ram_mb: int, disk_gb: int) -> bool:
    result = uc.session.execute(
        update(Host)
        .where(
            Host.id == host_id,
            Host.status == "up",
            Host.vcpus_used + vcpus <= Host.vcpus * Host.cpu_ratio,
            Host.ram_mb_used + ram_mb <= Host.ram_mb * Host.ram_ratio,
            Host.disk_gb_used + disk_gb <= Host.disk_gb * Host.disk_ratio,
        )
        .values(
            vcpus_used=Host.vcpus_used + vcpus, ram_mb_used=Host.ram_mb_used + ram_mb,
            disk_gb_used=Host.disk_gb_used + disk_gb, instances_used=Host.instances_used + 1,
            desired_revision=Host.desired_revision + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def schedule_and_claim(uc: UseCase, req: Request, strategy: str = "spread") -> str:
    """Choose a host and claim the request's resources on it; returns the host id."""
    country = uc.session.execute(select(Region.country).where(Region.id == req.region_id)).scalar_one()
    for _attempt in range(3):
        views = shortlist(uc, req, strategy, country)
        try:
            candidates = place(views, req, strategy) if views else []
        except NoValidHost:
            candidates = []
        if not candidates:
            # Slow path: every host of the region, so the error names each filter that rejected.
            candidates = place(host_views(uc, req.region_id), req, strategy)
        for candidate in candidates:
            if claim(uc, candidate.id, req.vcpus, req.ram_mb, req.disk_gb):
                return candidate.id
    raise NoValidHost("Every suitable host filled up while placing this instance; try again in a moment.",
                      filters=["capacity (race)"])


def group_hosts(uc: UseCase, group_id: str) -> frozenset[str]:
    rows = uc.session.execute(
        select(Instance.host_id).where(Instance.server_group_id == group_id, Instance.state != "DELETED",
                                       Instance.host_id.is_not(None))
    ).scalars()
    return frozenset(h for h in rows if h)
