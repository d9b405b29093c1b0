"""Cursor pagination by id (ids are UUIDv7, so id order is creation order)."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from hexagone.errors import InvalidInput
from hexagone.ids import is_id

T = TypeVar("T")
MAX_LIMIT = 1000


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The cursor is not one this API returned; start again without it.") from exc
    if not is_id(raw):  # also catches garbage that base64 decodes to nothing ("!!!!")
        raise InvalidInput("The cursor is not one this API returned; start again without it.")
    return raw


def paginate(session: Session, stmt: Select[Any], id_column: Any, limit: int, cursor: str | None) -> tuple[
    list[Any], str | None
]:
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.")
    if cursor:
        stmt = stmt.where(id_column > decode_cursor(cursor))
    rows = list(session.execute(stmt.order_by(id_column).limit(limit + 1)).scalars())
    next_cursor = encode_cursor(str(rows[limit - 1].id)) if len(rows) > limit else None
    return rows[:limit], next_cursor
