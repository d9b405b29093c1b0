"""Rows kept only for a while, and the purge that removes them (run by the periodic job)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hexagone.db.models import IdempotencyRecord


def purge_idempotency_records(session: Session, now: dt.datetime, retention_seconds: int) -> int:
    """Delete the stored answers of creates older than the retention (24 h by default): a retry
    after that runs the create again, as with any idempotency key that has expired."""
    cutoff = now - dt.timedelta(seconds=retention_seconds)
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
