"""The audit chain is keyed (HMAC, key outside the database) and its head can be anchored.

Threat: someone with write access to the database (a stolen backup restored elsewhere, a DBA, an
SQL injection) rewrites records and recomputes every following hash and the head. With plain
SHA-256 links that forgery verified; with keyed links it cannot be recomputed without
``secret.key``, and a forgery that falls back to plain links is caught by the chain's rule (no
plain link after a keyed one) or, if it rewrites the whole keyed stretch, by an anchor.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update

from hexagone.audit import chain
from hexagone.audit.service import as_dict
from hexagone.db.models import AuditEvent, AuditHead

pytestmark = pytest.mark.integration


def trail(api: Any, n: int = 6) -> Any:
    op = api.admin()
    c = api.org(op, api.root_id(op), "customer")
    for _ in range(n):
        api.project(op, c["id"])
    return op


def rechain_plain(rt: Any, from_seq: int, change: dict[str, Any] | None = None, at_seq: int | None = None) -> None:
    """What an attacker with database access and the old code's formula does: change a record,
    then recompute every plain link from ``from_seq`` and the head."""
    with rt.db.write() as session:
        rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
        prev = chain.GENESIS
        for ev in rows:
            if change and ev.seq == at_seq:
                for k, v in change.items():
                    setattr(ev, k, v)
            if ev.seq >= from_seq:
                ev.prev_hash = prev
                ev.hash = chain.link_hash(prev, as_dict(ev))
            prev = ev.hash
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_seq=rows[-1].seq, last_hash=prev))


def test_links_are_keyed_and_verify(api, rt):
    op = trail(api)
    res = op.ok("GET", "/v1/audit/verify")
    assert res["ok"] and res["keyed_from"] == 1, res
    with rt.db.read() as session:
        first = session.execute(select(AuditEvent).where(AuditEvent.seq == 1)).scalar_one()
        assert first.hash != chain.link_hash(chain.GENESIS, as_dict(first))  # not the plain formula


def test_a_rewritten_record_with_recomputed_plain_hashes_is_caught(api, rt):
    op = trail(api)
    rechain_plain(rt, from_seq=3, change={"details": {"forged": True}}, at_seq=3)
    res = op.ok("GET", "/v1/audit/verify")
    assert not res["ok"] and res["first_bad_seq"] == 3 and "rewritten" in res["reason"], res


def test_records_written_before_keying_still_verify(api, rt):
    """An upgraded installation: its old records carry plain links (as the old code wrote them),
    and the records appended since are keyed, linked to the last plain one."""
    op = trail(api, 3)
    rechain_plain(rt, from_seq=1)  # the whole trail as the old code wrote it
    assert op.ok("GET", "/v1/audit/verify")["ok"]
    with rt.db.read() as session:
        upgraded_at = session.execute(select(AuditHead.last_seq)).scalar_one()
    api.project(op, api.org(op, api.root_id(op), "customer")["id"])
    res = op.ok("GET", "/v1/audit/verify")
    assert res["ok"] and res["keyed_from"] == upgraded_at + 1, res


def test_an_anchor_catches_a_whole_trail_rewritten_as_plain_hashes(api, rt):
    op = trail(api)
    anchor = op.ok("POST", "/v1/audit/anchor")
    assert set(anchor) == {"format", "seq", "hash", "at", "mac"}
    trail_after = op.ok("GET", "/v1/audit/events?action=audit.anchor")["items"]
    assert [e["seq"] for e in trail_after] == [anchor["seq"]]  # making an anchor is itself audited
    assert op.ok("POST", "/v1/audit/verify", anchor, status=200)["ok"]
    api.project(op, api.org(op, api.root_id(op), "customer")["id"])  # the trail goes on after it
    good = op.ok("POST", "/v1/audit/verify", anchor, status=200)
    assert good["ok"] and good["anchor"]["ok"], good

    rechain_plain(rt, from_seq=1, change={"actor_name": "someone-else"}, at_seq=2)
    assert op.ok("GET", "/v1/audit/verify")["ok"]  # all plain: the chain alone cannot tell
    res = op.ok("POST", "/v1/audit/verify", anchor, status=200)
    assert not res["ok"] and not res["anchor"]["ok"] and "rewritten" in res["reason"], res


def test_an_anchor_catches_truncation_and_refuses_a_forged_anchor(api, rt):
    op = trail(api)
    anchor = op.ok("POST", "/v1/audit/anchor")
    forged = {**anchor, "seq": anchor["seq"] - 1}
    res = op.ok("POST", "/v1/audit/verify", forged, status=200)
    assert not res["ok"] and "MAC" in res["anchor"]["reason"], res
    res = op.ok("POST", "/v1/audit/verify", {"seq": "x"}, status=200)
    assert not res["ok"] and "not a Hexagone audit anchor" in res["anchor"]["reason"]
    with rt.db.write() as session:  # drop the newest records and move the head back, consistently
        session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq >= anchor["seq"] - 1))
        last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_seq=last.seq, last_hash=last.hash))
    assert op.ok("GET", "/v1/audit/verify")["ok"]
    res = op.ok("POST", "/v1/audit/verify", anchor, status=200)
    assert not res["ok"] and "missing" in res["reason"], res
    assert json.dumps(anchor)  # plain JSON: the CLI stores it as a file
