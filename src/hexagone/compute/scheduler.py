"""Placement: filters then weighers over plain host snapshots. Pure; the claim itself is an atomic
conditional UPDATE done by ``compute.placement``.

Each filter returns the hosts that pass; when none is left, ``NoValidHost`` names every filter
and how many hosts it rejected, so an operator sees why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hexagone.errors import NoValidHost


@dataclass(frozen=True, slots=True)
class HostView:
    id: str
    region_id: str
    zone_id: str
    country: str
    status: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    vcpus_used: int
    ram_mb_used: int
    disk_gb_used: int
    cpu_ratio: float
    ram_ratio: float
    disk_ratio: float
    capabilities: dict[str, object] = field(default_factory=dict)

    def free(self) -> tuple[float, float, float]:
        return (
            self.vcpus * self.cpu_ratio - self.vcpus_used,
            self.ram_mb * self.ram_ratio - self.ram_mb_used,
            self.disk_gb * self.disk_ratio - self.disk_gb_used,
        )


@dataclass(frozen=True)
class Request:
    vcpus: int
    ram_mb: int
    disk_gb: int
    region_id: str
    zone_id: str | None = None
    required_capabilities: dict[str, object] = field(default_factory=dict)
    allowed_countries: frozenset[str] = frozenset()
    allowed_regions: frozenset[str] = frozenset()
    region_name: str = ""
    avoid_hosts: frozenset[str] = frozenset()  # anti-affinity: hosts of the group's members
    same_hosts: frozenset[str] = frozenset()  # affinity


Filter = Callable[[HostView, Request], bool]


def f_status(h: HostView, r: Request) -> bool:
    return h.status == "up"


def f_region_zone(h: HostView, r: Request) -> bool:
    return h.region_id == r.region_id and (r.zone_id is None or h.zone_id == r.zone_id)


def f_residency(h: HostView, r: Request) -> bool:
    if r.allowed_countries and h.country not in r.allowed_countries:
        return False
    return not (r.allowed_regions and r.region_name not in r.allowed_regions)


def f_capacity(h: HostView, r: Request) -> bool:
    cpu, ram, disk = h.free()
    return cpu >= r.vcpus and ram >= r.ram_mb and disk >= r.disk_gb


def f_capabilities(h: HostView, r: Request) -> bool:
    return all(h.capabilities.get(k) == v for k, v in r.required_capabilities.items())


def f_anti_affinity(h: HostView, r: Request) -> bool:
    return h.id not in r.avoid_hosts


def f_affinity(h: HostView, r: Request) -> bool:
    return not r.same_hosts or h.id in r.same_hosts


FILTERS: list[tuple[str, Filter]] = [
    ("status", f_status),
    ("region_zone", f_region_zone),
    ("residency", f_residency),
    ("capabilities", f_capabilities),
    ("anti_affinity", f_anti_affinity),
    ("affinity", f_affinity),
    ("capacity", f_capacity),
]


def filter_hosts(hosts: Sequence[HostView], req: Request) -> list[HostView]:
    remaining = list(hosts)
    rejected: list[str] = []
    for name, fn in FILTERS:
        kept = [h for h in remaining if fn(h, req)]
        if len(kept) < len(remaining):
            rejected.append(f"{name} rejected {len(remaining) - len(kept)}")
        remaining = kept
        if not remaining:
            break
    if not remaining:
        detail = "; ".join(rejected) if rejected else "no hosts in this region"
        raise NoValidHost(
            f"No host can take this instance ({detail} of {len(hosts)} hosts). Try a smaller flavor, "
            "another zone, or ask the operator for capacity.",
            filters=rejected,
        )
    return remaining


def weigh(hosts: Sequence[HostView], strategy: str = "spread") -> list[HostView]:
    """Order candidates best first: ``spread`` prefers the most free RAM, ``pack`` the least."""

    def free_ram_share(h: HostView) -> float:
        total = h.ram_mb * h.ram_ratio or 1.0
        return (total - h.ram_mb_used) / total

    return sorted(hosts, key=free_ram_share, reverse=(strategy == "spread"))


def place(hosts: Sequence[HostView], req: Request, strategy: str = "spread", limit: int = 5) -> list[HostView]:
    """The best ``limit`` candidates; the caller claims them in order until one succeeds."""
    candidates = filter_hosts(hosts, req)
    if len(candidates) > limit * 4:
        import heapq

        def key(h: HostView) -> float:
            total = h.ram_mb * h.ram_ratio or 1.0
            share = (total - h.ram_mb_used) / total
            return -share if strategy == "spread" else share

        return heapq.nsmallest(limit, candidates, key=key)
    return weigh(candidates, strategy)[:limit]
