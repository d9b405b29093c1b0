"""The audit chain's hashing and verification, over plain dicts."""

from __future__ import annotations

import pytest

from hexagone.audit import chain

pytestmark = pytest.mark.unit


def build(n: int) -> list[dict]:
    records, prev = [], chain.GENESIS
    for seq in range(1, n + 1):
        rec = {
            "seq": seq,
            "id": f"id{seq}",
            "at": "2026-01-01T00:00:00+00:00",
            "action": "x.create",
            "result": "success",
            "details": {"n": seq},
        }
        rec["prev_hash"] = prev
        rec["hash"] = chain.link_hash(prev, rec)
        prev = rec["hash"]
        records.append(rec)
    return records


def test_an_intact_chain_verifies():
    recs = build(5)
    assert chain.verify(recs, 5, recs[-1]["hash"]) == chain.VerifyResult(True, 5)
    assert chain.verify([], 0, chain.GENESIS).ok


def test_a_modified_record_is_named():
    recs = build(5)
    recs[2]["details"] = {"n": 99}
    res = chain.verify(recs, 5, recs[-1]["hash"])
    assert not res.ok and res.first_bad_seq == 3 and "modified" in res.reason


def test_a_deleted_middle_record_is_named():
    recs = build(5)
    del recs[1]
    res = chain.verify(recs, 5, recs[-1]["hash"])
    assert not res.ok and res.first_bad_seq == 2 and "missing" in res.reason


def test_a_rehashed_forgery_still_breaks_at_the_head():
    """Rewriting a record and re-chaining every following hash is caught by the head."""
    recs = build(4)
    head = recs[-1]["hash"]
    recs[1]["action"] = "x.forged"
    prev = recs[0]["hash"]
    for rec in recs[1:]:
        rec["prev_hash"] = prev
        rec["hash"] = chain.link_hash(prev, rec)
        prev = rec["hash"]
    res = chain.verify(recs, 4, head)
    assert not res.ok


def test_truncating_the_newest_records_is_detected():
    recs = build(5)
    res = chain.verify(recs[:4], 5, recs[-1]["hash"])
    assert not res.ok and res.first_bad_seq == 5 and "newest" in res.reason


def test_the_hash_covers_every_hashed_field_and_is_canonical():
    rec = build(1)[0]
    base = chain.link_hash(chain.GENESIS, rec)
    assert chain.link_hash(chain.GENESIS, dict(reversed(list(rec.items())))) == base
    for name in chain.HASHED_FIELDS:
        changed = {**rec, name: "tampered"}
        assert chain.link_hash(chain.GENESIS, changed) != base, name
    assert chain.link_hash("1" * 64, rec) != base
