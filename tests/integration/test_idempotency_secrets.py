"""Idempotency records never hold a secret, and are purged after the retention (24 h)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hexagone.bootstrap import Runtime
from hexagone.clock import FrozenClock
from hexagone.compute import jobs
from hexagone.db.models import IdempotencyRecord

pytestmark = pytest.mark.integration


def stored_bodies(rt: Runtime) -> list[bytes]:
    with rt.db.read() as session:
        return [bytes(r.body) for r in session.execute(select(IdempotencyRecord)).scalars()]


def key_request(cust_id: str) -> dict[str, Any]:
    return {"name": "ci", "scope_type": "org", "scope_id": cust_id, "role": "reader"}


def test_an_api_key_secret_is_answered_once_and_stored_nowhere(api, rt):
    op = api.admin()
    cust = api.org(op, api.root_id(op), "customer")
    h = {"Idempotency-Key": "key-create-1"}
    first = op.post("/v1/api-keys", json=key_request(cust["id"]), headers=h)
    assert first.status_code == 201, first.text
    secret = first.json()["secret"]
    assert secret.startswith("hxk_")
    assert all(secret.encode() not in body for body in stored_bodies(rt))
    replay = op.post("/v1/api-keys", json=key_request(cust["id"]), headers=h)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    body = replay.json()
    assert body["id"] == first.json()["id"] and body["secret"] is None
    assert "stored nowhere" in body["withheld"]["secret"]
    # the replayed answer is still a working description of the key; the secret still works
    assert api.client.get("/v1/auth/whoami", headers={"X-Api-Key": secret}).status_code == 200


def test_a_generated_private_key_is_stored_nowhere(api, rt):
    op = api.admin()
    h = {"Idempotency-Key": "kp-1"}
    first = op.post("/v1/keypairs", json={"name": "gen"}, headers=h).json()
    assert first["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert all(first["private_key"].encode() not in body for body in stored_bodies(rt))
    replay = op.post("/v1/keypairs", json={"name": "gen"}, headers=h).json()
    assert replay["private_key"] is None and "private_key" in replay["withheld"]


def test_idempotency_records_are_purged_after_24_hours(api, rt, clock: FrozenClock):
    op = api.admin()
    cust = api.org(op, api.root_id(op), "customer")
    op.post("/v1/projects", json={"org_id": cust["id"], "name": "old"}, headers={"Idempotency-Key": "old"})
    clock.advance(23 * 3600)
    op = api.admin()  # tokens last 12 h
    r = op.post("/v1/projects", json={"org_id": cust["id"], "name": "new"}, headers={"Idempotency-Key": "new"})
    assert r.status_code == 201, r.text
    jobs.run_once(rt)
    assert len(stored_bodies(rt)) == 2  # neither is 24 h old yet
    clock.advance(3600 + 1)
    jobs.run_once(rt)
    bodies = stored_bodies(rt)
    assert len(bodies) == 1 and b'"new"' in bodies[0]
    clock.advance(23 * 3600)
    jobs.run_once(rt)
    assert stored_bodies(rt) == []
    op = api.admin()
    # an expired key is free again: the same request now creates (and conflicts on the name)
    again = op.post("/v1/projects", json={"org_id": cust["id"], "name": "old"},
                    headers={"Idempotency-Key": "old"})
    assert again.status_code == 409, again.text
