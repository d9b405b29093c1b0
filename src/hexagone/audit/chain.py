"""Hash chaining of audit records. Pure: records are plain dicts.

``hash_n = sha256(hash_{n-1} || canonical_json(record_n))``. Verification walks the records in
sequence order and reports the first break: a modified record (its hash no longer matches), a
deleted one (a gap in ``seq`` or a ``prev_hash`` that does not match), or truncation of the newest
records (the head no longer matches the last record).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq", "id", "at", "actor_user_id", "actor_name", "actor_org_id", "actor_api_key_id", "action",
    "resource_type", "resource_id", "target_org_id", "target_org_path", "result", "source_ip",
    "request_id", "details",
)


def canonical(record: Mapping[str, Any]) -> bytes:
    body = {k: record.get(k) for k in HASHED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def link_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"|" + canonical(record)).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify(records: Iterable[Mapping[str, Any]], head_seq: int, head_hash: str) -> VerifyResult:
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    for rec in records:
        seq = int(rec["seq"])
        if seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"record {expected_seq} is missing")
        if rec["prev_hash"] != prev_hash:
            return VerifyResult(False, checked, seq, f"record {seq} does not follow record {seq - 1}")
        if link_hash(prev_hash, rec) != rec["hash"]:
            return VerifyResult(False, checked, seq, f"record {seq} was modified")
        prev_hash = rec["hash"]
        expected_seq += 1
        checked += 1
    if checked != head_seq or prev_hash != (head_hash if head_seq else GENESIS):
        return VerifyResult(
            False, checked, checked + 1, f"the newest records were removed: the head is at {head_seq}"
        )
    return VerifyResult(True, checked)
