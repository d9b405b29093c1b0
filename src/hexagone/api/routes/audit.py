"""/v1/audit: query, export (JSON lines, CSV), verify the keyed hash chain, anchor its head."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Body, Query
from fastapi.responses import Response

from hexagone.api.deps import UC
from hexagone.api.routing import endpoint, new_router
from hexagone.api.schemas import Rfc3339
from hexagone.api.schemas.audit import AnchorOut, AuditEventPage, VerifyOut
from hexagone.audit import queries
from hexagone.audit.service import (
    ANCHOR_KEY,
    CHAIN_KEY,
    anchor,
    check_anchor,
    to_csv,
    to_jsonl,
    verify_chain,
)
from hexagone.identity.orgs import org_target, root_org

router = new_router("/v1/audit", "audit")


def _filters(org_id: str | None, action: str | None, actor_user_id: str | None, resource_id: str | None,
             result: str | None, since: dt.datetime | None, until: dt.datetime | None) -> dict[str, Any]:
    return {"org_id": org_id, "action": action, "actor_user_id": actor_user_id, "resource_id": resource_id,
            "result": result, "since": since, "until": until}


EXPORT_MEDIA = {"application/x-ndjson": {"type": "string", "description": "One JSON record per line."},
                "text/csv": {"type": "string"}}
#: The largest audit sequence number (a signed 64-bit integer in both databases).
MAX_SEQ = 2**63 - 1
When = Annotated[Rfc3339 | None, Query(description="RFC 3339 with its offset, such as 2026-01-01T00:00:00Z.")]
Str36 = Annotated[str | None, Query(max_length=36)]
Str64 = Annotated[str | None, Query(max_length=64)]


@endpoint(router, "GET", "/events", permission="audit.read", response_model=AuditEventPage)
def list_events(
    uc: UC,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="next_cursor of the previous page.")] = None,
    org_id: Str36 = None, action: Str64 = None, actor_user_id: Str36 = None, resource_id: Str64 = None,
    result: Str64 = None, since: When = None, until: When = None,
) -> dict[str, Any]:
    """Records touching your subtree, oldest first; ``next_cursor`` continues."""
    items, nxt = queries.query(uc, limit, cursor,
                               _filters(org_id, action, actor_user_id, resource_id, result, since, until))
    return {"items": items, "next_cursor": str(nxt) if nxt else None}


@endpoint(router, "GET", "/export", permission="audit.read", response_class=Response, produces=EXPORT_MEDIA)
def export(
    uc: UC,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",  # noqa: A002
    org_id: Str36 = None, action: Str64 = None, actor_user_id: Str36 = None, resource_id: Str64 = None,
    result: Str64 = None, since: When = None, until: When = None,
) -> Response:
    """Your whole visible trail as JSON lines or CSV (each record carries its hash links)."""
    filters = _filters(org_id, action, actor_user_id, resource_id, result, since, until)
    events: list[dict[str, Any]] = []
    cursor = None
    while len(events) < queries.MAX_EXPORT:
        page, cursor = queries.query(uc, 1000, cursor, filters)
        events.extend(page)
        if cursor is None:
            break
    if format == "csv":
        return Response(to_csv(events), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
    return Response(to_jsonl(events), media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'})


def _verified(uc: Any, given_anchor: dict[str, Any] | None) -> dict[str, Any]:
    uc.authorize_operator(org_target(root_org(uc)), "audit.verify", doing="verify the whole audit chain")
    res = verify_chain(uc.session, uc.hasher.derived_key(CHAIN_KEY))
    out: dict[str, Any] = {"ok": res.ok, "checked": res.checked, "first_bad_seq": res.first_bad_seq,
                           "reason": res.reason, "keyed_from": res.keyed_from}
    if given_anchor is not None:
        problem = check_anchor(uc.session, uc.hasher.derived_key(ANCHOR_KEY), given_anchor)
        seq = given_anchor.get("seq")
        out["anchor"] = {"seq": seq, "ok": problem is None, "reason": problem or ""}
        if problem and out["ok"]:
            out.update(ok=False, first_bad_seq=seq if isinstance(seq, int) else None, reason=problem)
    return out


@endpoint(router, "GET", "/verify", permission="audit.verify", response_model=VerifyOut)
def verify(uc: UC) -> dict[str, Any]:
    """Walk the whole chain (operator only): reports the first modified, missing or truncated record."""
    return _verified(uc, None)


@endpoint(router, "POST", "/verify", permission="audit.verify", response_model=VerifyOut)
def verify_against_anchor(uc: UC, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Walk the whole chain and check it against an anchor made earlier (``POST /v1/audit/anchor``):
    a rewritten or removed stretch up to the anchor is caught even if its hashes were recomputed."""
    return _verified(uc, body)


@endpoint(router, "POST", "/anchor", permission="audit.verify", status_code=201, response_model=AnchorOut)
def make_anchor(uc: UC) -> dict[str, Any]:
    """Record an ``audit.anchor`` event and answer the new head (seq, hash, time) with its MAC. Keep
    the answer outside this region's database (``hexagone audit anchor --output-file``)."""
    root = root_org(uc)
    uc.authorize_operator(org_target(root), "audit.verify", doing="anchor the audit chain")
    uc.audit("audit.anchor", "audit", None, root.id, root.path)
    uc.session.flush()
    return anchor(uc.session, uc.hasher.derived_key(ANCHOR_KEY))
