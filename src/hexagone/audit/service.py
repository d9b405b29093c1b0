"""Appending to and reading the audit trail, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hexagone import csvsafe
from hexagone.audit import chain
from hexagone.db.models import AuditEvent, AuditHead
from hexagone.errors import InvalidInput
from hexagone.ids import new_id

EXPORT_FIELDS = [*chain.HASHED_FIELDS, "prev_hash", "hash"]
#: Purposes of the keys derived from the installation's secret (``Hasher.derived_key``).
CHAIN_KEY = "audit-chain/v2"
ANCHOR_KEY = "audit-anchor/v1"


@dataclass
class Actor:
    """Who is acting and from where; built once per request."""

    user_id: str | None = None
    name: str = ""
    org_id: str | None = None
    api_key_id: str | None = None
    source_ip: str = ""
    request_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _head_for_update(session: Session) -> AuditHead:
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_seq=0, last_hash=chain.GENESIS)
        session.add(head)
        session.flush()
    return head


def record(
    session: Session,
    now: dt.datetime,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    target_org_id: str | None,
    target_org_path: str,
    result: str = "success",
    details: dict[str, Any] | None = None,
    *,
    key: bytes,
) -> AuditEvent:
    """Append one record in the current transaction, linked with the chain ``key`` (HMAC).
    Appends are serialised on the head row."""
    head = _head_for_update(session)
    seq = head.last_seq + 1
    values: dict[str, Any] = {
        "seq": seq,
        "id": new_id(),
        "at": now.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_user_id": actor.user_id,
        "actor_name": actor.name,
        "actor_org_id": actor.org_id,
        "actor_api_key_id": actor.api_key_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "target_org_id": target_org_id,
        "target_org_path": target_org_path,
        "result": result,
        "source_ip": actor.source_ip,
        "request_id": actor.request_id,
        "details": details or {},
    }
    digest = chain.link_mac(key, head.last_hash, values)
    event = AuditEvent(**{**values, "at": now}, prev_hash=head.last_hash, hash=digest)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_seq=seq, last_hash=digest))
    head.last_seq, head.last_hash = seq, digest
    return event


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "id": event.id,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_user_id": event.actor_user_id,
        "actor_name": event.actor_name,
        "actor_org_id": event.actor_org_id,
        "actor_api_key_id": event.actor_api_key_id,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "target_org_id": event.target_org_id,
        "target_org_path": event.target_org_path,
        "result": event.result,
        "source_ip": event.source_ip,
        "request_id": event.request_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def verify_chain(session: Session, key: bytes, batch: int = 5000) -> chain.VerifyResult:
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.last_seq, head.last_hash) if head else (0, chain.GENESIS)

    def rows() -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            page = session.execute(
                select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
            ).scalars().all()
            if not page:
                return
            for ev in page:
                yield as_dict(ev)
            last = page[-1].seq
            session.expunge_all()

    return chain.verify(rows(), head_seq, head_hash, key)


def anchor(session: Session, anchor_key: bytes) -> dict[str, Any]:
    """The head of the trail (seq, hash, time) with its MAC: keep it outside the database, and give
    it to ``check_anchor`` later to prove that nothing up to it was rewritten or removed."""
    head = session.get(AuditHead, 1)
    if head is None or head.last_seq == 0:
        raise InvalidInput("The audit trail is empty: there is no head to anchor yet.")
    event = session.execute(select(AuditEvent).where(AuditEvent.seq == head.last_seq)).scalar_one()
    at = as_dict(event)["at"]
    return {"format": chain.ANCHOR_FORMAT, "seq": head.last_seq, "hash": head.last_hash, "at": at,
            "mac": chain.anchor_mac(anchor_key, head.last_seq, head.last_hash, at)}


def check_anchor(session: Session, anchor_key: bytes, given: dict[str, Any]) -> str | None:
    """Why the trail contradicts the anchor, or None when the anchored record is still there, unchanged."""
    seq = given.get("seq")
    found = None
    if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0:
        event = session.execute(select(AuditEvent).where(AuditEvent.seq == seq)).scalar_one_or_none()
        found = as_dict(event) if event is not None else None
    return chain.anchor_problem(anchor_key, given, found)


def to_jsonl(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, sort_keys=True, default=str) + "\n" for e in events)


def to_csv(events: list[dict[str, Any]]) -> str:
    """The audit export as CSV through the one safe writer (no cell can start a spreadsheet formula)."""
    return csvsafe.records(
        EXPORT_FIELDS, ({**e, "details": json.dumps(e.get("details") or {}, sort_keys=True)} for e in events)
    )
