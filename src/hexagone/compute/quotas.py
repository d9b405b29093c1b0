"""Quotas per project and per organisation: limits, usage, and the atomic check at create."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from hexagone.db.compute_models import Instance, Quota
from hexagone.db.models import Organisation, Project
from hexagone.errors import QuotaExceeded
from hexagone.ids import new_id
from hexagone.usecase import UseCase

RESOURCES = ("instances", "vcpus", "ram_mb", "disk_gb")
DEFAULTS = {
    "project": {"instances": 20, "vcpus": 40, "ram_mb": 80 * 1024, "disk_gb": 2000},
    "org": {"instances": 100, "vcpus": 200, "ram_mb": 400 * 1024, "disk_gb": 10000},
}


@dataclass(frozen=True)
class Usage:
    instances: int
    vcpus: int
    ram_mb: int
    disk_gb: int

    def plus(self, vcpus: int, ram_mb: int, disk_gb: int) -> Usage:
        return Usage(self.instances + 1, self.vcpus + vcpus, self.ram_mb + ram_mb, self.disk_gb + disk_gb)


def limits(uc: UseCase, scope_type: str, scope_id: str) -> dict[str, int]:
    row = uc.session.execute(
        select(Quota).where(Quota.scope_type == scope_type, Quota.scope_id == scope_id)
    ).scalar_one_or_none()
    if row is None:
        return dict(DEFAULTS[scope_type])
    return {r: int(getattr(row, r)) for r in RESOURCES}


def usage(uc: UseCase, scope_type: str, scope_id: str) -> Usage:
    col = Instance.project_id if scope_type == "project" else Instance.org_id
    r = uc.session.execute(
        select(func.count(Instance.id), func.coalesce(func.sum(Instance.vcpus), 0),
               func.coalesce(func.sum(Instance.ram_mb), 0), func.coalesce(func.sum(Instance.disk_gb), 0))
        .where(col == scope_id, Instance.state != "DELETED")
    ).one()
    return Usage(int(r[0]), int(r[1]), int(r[2]), int(r[3]))


def check_and_lock(uc: UseCase, project: Project, vcpus: int, ram_mb: int, disk_gb: int) -> None:
    """Serialise creates per project and organisation (row locks), then check both quotas.
    Runs in the create's transaction, so two concurrent creates cannot both pass on the last slot.
    The locks are ``FOR NO KEY UPDATE`` (PostgreSQL): they exclude each other but not the foreign-key
    checks of other transactions, such as an agent's report that holds the host row; a plain
    ``FOR UPDATE`` here, taken before the host claim, deadlocked with those reports."""
    uc.session.execute(select(Organisation.id).where(Organisation.id == project.org_id)
                       .with_for_update(key_share=True))
    uc.session.execute(select(Project.id).where(Project.id == project.id).with_for_update(key_share=True))
    for scope_type, scope_id, label in (("project", project.id, "project"), ("org", project.org_id, "organisation")):
        lim = limits(uc, scope_type, scope_id)
        after = usage(uc, scope_type, scope_id).plus(vcpus, ram_mb, disk_gb)
        over = [r for r in RESOURCES if getattr(after, r) > lim[r]]
        if over:
            parts = ", ".join(f"{r} {getattr(after, r)} > {lim[r]}" for r in over)
            raise QuotaExceeded(
                f"This would exceed the {label}'s quota ({parts}). Delete instances or ask an administrator "
                "to raise the quota.", resources=over,
            )


def set_limits(uc: UseCase, scope_type: str, scope_id: str, values: dict[str, Any]) -> dict[str, int]:
    row = uc.session.execute(
        select(Quota).where(Quota.scope_type == scope_type, Quota.scope_id == scope_id)
    ).scalar_one_or_none()
    if row is None:
        row = Quota(id=new_id(), scope_type=scope_type, scope_id=scope_id, updated_at=uc.now,
                    **DEFAULTS[scope_type])
        uc.session.add(row)
    for r in RESOURCES:
        if values.get(r) is not None:
            setattr(row, r, int(values[r]))
    row.updated_at = uc.now
    uc.session.flush()
    return {r: int(getattr(row, r)) for r in RESOURCES}


def report(uc: UseCase, scope_type: str, scope_id: str) -> dict[str, Any]:
    lim = limits(uc, scope_type, scope_id)
    use = usage(uc, scope_type, scope_id)
    return {r: {"limit": lim[r], "in_use": getattr(use, r)} for r in RESOURCES}
