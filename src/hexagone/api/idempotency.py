"""``Idempotency-Key`` on creates: a retried create returns the first result, in the same
transaction as the create itself; the same key with a different request is refused.

A secret in the first answer (an API key's ``secret``, a generated ``private_key``) is never stored:
the record keeps the answer without it, and a replay says so in ``withheld``. Records are purged
after ``idempotency_retention_seconds`` (``hexagone.db.retention``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hexagone.db.models import IdempotencyRecord
from hexagone.errors import Conflict
from hexagone.ids import new_id
from hexagone.usecase import UseCase


def _request_hash(method: str, path: str, payload: Any) -> str:
    body = json.dumps(jsonable_encoder(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


WITHHELD = "Shown only in the first answer and stored nowhere; if it was lost, revoke and create again."


def _storable(body: Any, secret_fields: tuple[str, ...]) -> Any:
    """The answer as it may be stored: every secret field emptied, and named in ``withheld``."""
    if not secret_fields or not isinstance(body, dict):
        return body
    present = [f for f in secret_fields if body.get(f) is not None]
    if not present:
        return body
    return {**body, **dict.fromkeys(present), "withheld": dict.fromkeys(present, WITHHELD)}


def run_create(
    uc: UseCase, key: str | None, method: str, path: str, payload: Any, create: Callable[[], Any],
    status_code: int = 201, secret_fields: tuple[str, ...] = (),
) -> JSONResponse:
    """Run ``create`` once per (principal, key); replay its stored answer afterwards. The fields
    named in ``secret_fields`` are answered the first time only, never stored."""
    if not key:
        return JSONResponse(jsonable_encoder(create()), status_code=status_code)
    principal = uc.principal.api_key_id or uc.principal.user_id if uc.principal else "anonymous"
    digest = _request_hash(method, path, payload)
    found = uc.session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
    ).scalar_one_or_none()
    if found is not None:
        if found.request_hash != digest:
            raise Conflict("This Idempotency-Key was already used for a different request; use a new key.")
        return JSONResponse(json.loads(found.body), status_code=found.status_code,
                            headers={"Idempotent-Replayed": "true"})
    # Claim the key before creating: a concurrent request with the same key waits on the unique index
    # until this transaction ends, then replays its answer (or creates, if this one rolled back).
    record = IdempotencyRecord(id=new_id(), principal=principal, key=key, request_hash=digest,
                               status_code=status_code, body=b"", created_at=uc.now)
    try:
        with uc.session.begin_nested():
            uc.session.add(record)
            uc.session.flush()
    except IntegrityError:
        found = uc.session.execute(
            select(IdempotencyRecord).where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
        ).scalar_one_or_none()
        if found is None or found.request_hash != digest or not found.body:
            raise Conflict("This Idempotency-Key is in use by another request; retry in a moment.") from None
        return JSONResponse(json.loads(found.body), status_code=found.status_code,
                            headers={"Idempotent-Replayed": "true"})
    body = jsonable_encoder(create())
    record.body = json.dumps(_storable(body, secret_fields)).encode()
    uc.session.flush()
    return JSONResponse(body, status_code=status_code)
