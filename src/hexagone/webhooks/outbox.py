"""The one outbox of outgoing webhooks, used by requests and periodic jobs alike.

A use case that must announce something calls ``enqueue`` in its own transaction: the message
exists exactly when the event does, whether a request or a periodic job produced it, and a crash
after the commit loses nothing. ``deliver_due`` (run by the control plane's periodic job every
round) sends what is due:

1. *claim* a row in a short transaction of its own: ``attempts + 1`` and ``next_attempt_at`` pushed
   forward by a lease, by a conditional UPDATE that only one worker can win;
2. *send* with no transaction open (``HttpSender``: public destinations only, pinned address);
3. *record* the outcome in another short transaction: ``delivered``; ``refused`` when the
   destination is not allowed (never retried); after a failure, a retry with exponential backoff,
   or ``failed`` after ``webhook_max_attempts`` attempts.

A crash between claim and record leaves the row ``pending``: it is tried again once the lease
has passed (at-least-once delivery; receivers deduplicate on the ``Hexagone-Delivery`` header).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, select, update

from hexagone.clock import Clock
from hexagone.db.base import Database
from hexagone.db.outbox_models import WebhookDelivery
from hexagone.errors import HexagoneError, PermanentError
from hexagone.ids import new_id
from hexagone.settings import Settings
from hexagone.usecase import UseCase
from hexagone.webhooks.rules import backoff_seconds

log = logging.getLogger("hexagone.webhooks")
LEASE_MARGIN_SECONDS = 60


class Sender(Protocol):
    def send(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> int: ...


def enqueue(uc: UseCase, kind: str, source_id: str, org_id: str, url: str, body: dict[str, Any]) -> WebhookDelivery:
    """Write one message in the caller's transaction; it is due at once."""
    row = WebhookDelivery(
        id=new_id(), kind=kind, source_id=source_id, org_id=org_id, url=url, body=dict(body),
        status="pending", attempts=0, next_attempt_at=uc.now, last_error="", created_at=uc.now,
        updated_at=uc.now,
    )
    uc.session.add(row)
    return row


def by_source(uc: UseCase, source_ids: Iterable[str]) -> dict[str, WebhookDelivery]:
    ids = list(source_ids)
    if not ids:
        return {}
    rows = uc.session.execute(select(WebhookDelivery).where(WebhookDelivery.source_id.in_(ids))).scalars()
    return {r.source_id: r for r in rows}


def delivery_out(row: WebhookDelivery | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row.id, "status": row.status, "attempts": row.attempts, "last_error": row.last_error,
        "last_status_code": row.last_status_code, "next_attempt_at": row.next_attempt_at if row.status == "pending"
        else None, "delivered_at": row.delivered_at,
    }


@dataclass
class Round:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.delivered or self.retrying or self.failed or self.refused)


@dataclass(frozen=True)
class _Claimed:
    id: str
    kind: str
    url: str
    body: dict[str, Any]
    attempts: int


def _claim(db: Database, row_id: str, now: dt.datetime, lease: dt.timedelta) -> _Claimed | None:
    with db.write() as s:
        won = cast(CursorResult[Any], s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at <= now)
            .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + lease, updated_at=now)
            .execution_options(synchronize_session=False)
        ))
        if won.rowcount != 1:
            return None
        row = s.get(WebhookDelivery, row_id)
        assert row is not None
        return _Claimed(row.id, row.kind, row.url, dict(row.body or {}), row.attempts)


def _record(db: Database, claimed: _Claimed, now: dt.datetime, settings: Settings,
            error: HexagoneError | None, status_code: int | None) -> str:
    with db.write() as s:
        row = s.get(WebhookDelivery, claimed.id)
        if row is None:
            return "gone"
        row.updated_at = now
        row.last_status_code = status_code
        if error is None:
            row.status, row.delivered_at, row.last_error = "delivered", now, ""
        elif isinstance(error, PermanentError):
            row.status, row.last_error = "refused", error.message[:500]
        elif claimed.attempts >= settings.webhook_max_attempts:
            row.status, row.last_error = "failed", error.message[:500]
        else:
            row.last_error = error.message[:500]
            row.next_attempt_at = now + dt.timedelta(
                seconds=backoff_seconds(claimed.attempts, settings.webhook_retry_seconds))
            return "retrying"
        return row.status


def deliver_due(db: Database, clock: Clock, settings: Settings, sender: Sender, limit: int = 100) -> Round:
    """Send every message that is due (oldest first, at most ``limit``)."""
    now = clock.now()
    with db.read() as s:
        due = list(s.execute(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
        ).scalars())
    out = Round()
    lease = dt.timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
    for row_id in due:
        claimed = _claim(db, row_id, now, lease)
        if claimed is None:
            continue  # another worker has it
        error: HexagoneError | None = None
        status_code: int | None = None
        headers = {"Hexagone-Delivery": claimed.id, "Hexagone-Event": claimed.kind}
        try:
            status_code = sender.send(claimed.url, {**claimed.body, "delivery_id": claimed.id}, headers)
        except HexagoneError as exc:
            error = exc
            code = exc.extra.get("status_code")
            status_code = code if isinstance(code, int) else None
            log.warning("webhook %s (attempt %d): %s", claimed.id, claimed.attempts, exc.message)
        outcome = _record(db, claimed, clock.now(), settings, error, status_code)
        {"delivered": out.delivered, "retrying": out.retrying, "failed": out.failed,
         "refused": out.refused}.get(outcome, []).append(claimed.id)
    return out
