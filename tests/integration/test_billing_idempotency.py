"""Money-moving creates honour Idempotency-Key: a retried credit grant credits once."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_retried_credit_grant_credits_once(api):
    op = api.admin()
    customer = api.org(op, api.root_id(op), "customer")
    body = {"org_id": customer["id"], "amount": "25.00", "reason": "welcome"}
    key = {"Idempotency-Key": "grant-welcome-1"}
    first = op.post("/v1/billing/credits", json=body, headers=key)
    again = op.post("/v1/billing/credits", json=body, headers=key)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    ledger = op.ok("GET", f"/v1/billing/credits?org_id={customer['id']}")
    assert ledger["balance"] in ("25.00", "25")
    other = op.post("/v1/billing/credits", json={**body, "amount": "30.00"}, headers=key)
    assert other.status_code == 409
