"""The outbox of outgoing webhooks: one row per message, written in the same transaction as the
event it announces, delivered later by the periodic delivery job (``hexagone.webhooks.outbox``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hexagone.db.base import Base, UTCDateTime

ID = String(36)


class WebhookDelivery(Base):
    """One webhook message. ``status``: ``pending`` (due at ``next_attempt_at``; a worker that
    claims it pushes ``next_attempt_at`` forward by a lease, so a crash mid-send only delays the
    retry), ``delivered``, ``failed`` (gave up after the maximum number of attempts) or
    ``refused`` (the destination is not allowed: never retried)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))  # e.g. budget.threshold
    source_id: Mapped[str] = mapped_column(ID, index=True)  # the event announced (a budget event id)
    org_id: Mapped[str] = mapped_column(ID, index=True)  # the organisation whose URL it is
    url: Mapped[str] = mapped_column(String(500))
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(String(500), default="")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
