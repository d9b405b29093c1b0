"""Hash chaining of audit records. Pure: records are plain dicts.

Records are keyed links: ``hash_n = HMAC-SHA256(K, hash_{n-1} | canonical_json(record_n))`` with
``K`` derived from the installation's secret key, which lives outside the database
(``<data_dir>/secret.key`` or ``HEXAGONE_SECRET_KEY``). Someone who can write the database but not
read that key can no longer rewrite a record and recompute the chain after it.

Records written before keying (version 1) keep their plain link ``sha256(hash_{n-1} | json)`` and
still verify; the first keyed record links to the last plain one. A plain record *after* a keyed
one is refused (a rewritten suffix downgraded to plain hashes), and a whole keyed suffix rewritten
as plain records is caught by any anchor taken since (``anchor_mac``): an anchor is the head (seq,
hash) exported with its own MAC, kept outside the database, and checked by ``verify_anchor``.

Verification walks the records in sequence order and reports the first break: a modified record
(its link no longer matches), a deleted one (a gap in ``seq`` or a ``prev_hash`` that does not
match), or truncation of the newest records (the head no longer matches the last record).
"""

from __future__ import annotations

import hashlib
import hmac
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
    """The plain link of records written before keying (version 1)."""
    return hashlib.sha256(prev_hash.encode() + b"|" + canonical(record)).hexdigest()


def link_mac(key: bytes, prev_hash: str, record: Mapping[str, Any]) -> str:
    """The keyed link of every record written since (version 2)."""
    return hmac.new(key, prev_hash.encode() + b"|" + canonical(record), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    keyed_from: int | None = None  # the first keyed record; None when every record is plain


def verify(
    records: Iterable[Mapping[str, Any]], head_seq: int, head_hash: str, key: bytes | None = None
) -> VerifyResult:
    """Walk the chain. With ``key``, keyed links verify and a plain link after a keyed one fails."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    keyed_from: int | None = None
    for rec in records:
        seq = int(rec["seq"])
        if seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"record {expected_seq} is missing", keyed_from)
        if rec["prev_hash"] != prev_hash:
            return VerifyResult(False, checked, seq, f"record {seq} does not follow record {seq - 1}", keyed_from)
        keyed = key is not None and hmac.compare_digest(link_mac(key, prev_hash, rec), str(rec["hash"]))
        if keyed and keyed_from is None:
            keyed_from = seq
        if not keyed:
            if link_hash(prev_hash, rec) != rec["hash"]:
                return VerifyResult(False, checked, seq, f"record {seq} was modified", keyed_from)
            if keyed_from is not None:
                return VerifyResult(
                    False, checked, seq,
                    f"record {seq} carries a plain hash after keyed records: it was rewritten", keyed_from,
                )
        prev_hash = rec["hash"]
        expected_seq += 1
        checked += 1
    if checked != head_seq or prev_hash != (head_hash if head_seq else GENESIS):
        return VerifyResult(
            False, checked, checked + 1, f"the newest records were removed: the head is at {head_seq}", keyed_from
        )
    return VerifyResult(True, checked, keyed_from=keyed_from)


ANCHOR_FORMAT = "hexagone-audit-anchor/1"


def anchor_mac(key: bytes, seq: int, hash_: str, at: str) -> str:
    """The MAC of an exported head: only the holder of the installation's key can make one."""
    body = json.dumps({"format": ANCHOR_FORMAT, "seq": seq, "hash": hash_, "at": at}, sort_keys=True)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def anchor_problem(key: bytes, anchor: Mapping[str, Any], record: Mapping[str, Any] | None) -> str | None:
    """Why the chain contradicts an anchor (its own MAC is wrong, its record is gone or differs), or
    None when the record the anchor names is still the one that was anchored."""
    try:
        seq, hash_, at, mac = int(anchor["seq"]), str(anchor["hash"]), str(anchor["at"]), str(anchor["mac"])
    except (KeyError, TypeError, ValueError):
        return "the anchor is not a Hexagone audit anchor (seq, hash, at, mac)"
    if anchor.get("format") != ANCHOR_FORMAT or not hmac.compare_digest(
        anchor_mac(key, seq, hash_, at).encode(), mac.encode("utf-8", "replace")
    ):
        return "the anchor's MAC does not match: it was altered, or made by another installation"
    if record is None:
        return f"record {seq}, the anchored head, is missing: the newest records were removed"
    if record.get("hash") != hash_:
        return f"record {seq} is not the record that was anchored: the trail was rewritten from there or before"
    return None
