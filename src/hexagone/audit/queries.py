"""Reading the trail: each principal sees the records that touch its subtree."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from hexagone.audit.service import as_dict
from hexagone.authz.policy import Target, visible_scopes
from hexagone.db.models import AuditEvent, Organisation
from hexagone.errors import InvalidInput
from hexagone.identity.orgs import _path_filter, load_org
from hexagone.usecase import UseCase

MAX_EXPORT = 100_000


def query(
    uc: UseCase, limit: int, after_seq: int | None, filters: dict[str, Any]
) -> tuple[list[dict[str, Any]], int | None]:
    """Records visible to the principal, oldest first, ``after_seq`` as the cursor."""
    principal = uc.require_principal()
    paths, _ = visible_scopes(principal, "audit.read")
    stmt = select(AuditEvent).where(_path_filter(AuditEvent.target_org_path, paths))
    if filters.get("org_id"):
        org: Organisation = load_org(uc, filters["org_id"])
        uc.authorize(Target(org_path=org.path), "audit.read", what="organisation")
        stmt = stmt.where(AuditEvent.target_org_path.startswith(org.path, autoescape=True))
    if filters.get("action"):
        stmt = stmt.where(AuditEvent.action == filters["action"])
    if filters.get("actor_user_id"):
        stmt = stmt.where(AuditEvent.actor_user_id == filters["actor_user_id"])
    if filters.get("resource_id"):
        stmt = stmt.where(AuditEvent.resource_id == filters["resource_id"])
    if filters.get("result"):
        stmt = stmt.where(AuditEvent.result == filters["result"])
    since: dt.datetime | None = filters.get("since")
    until: dt.datetime | None = filters.get("until")
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise InvalidInput("since and until need a timezone, such as 2026-01-01T00:00:00Z.")
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    if after_seq:
        stmt = stmt.where(AuditEvent.seq > after_seq)
    rows = list(uc.session.execute(stmt.order_by(AuditEvent.seq).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return [as_dict(r) for r in rows], (rows[-1].seq if more and rows else None)
