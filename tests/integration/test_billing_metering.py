"""Metering in the database: one event per state change written with it, duplicates and restarts
never counted twice, reconciliation, immutable invoices, prepaid credit, budgets and hard stop."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hexagone.audit.service import Actor
from hexagone.billing import metering
from hexagone.db.billing_models import Invoice, UsageEvent
from hexagone.db.compute_models import Instance
from hexagone.usecase import UseCase
from tests.integration.billing_helpers import at, cloud

pytestmark = pytest.mark.integration


def _uc(rt, session):
    return UseCase(session=session, now=rt.clock.now(), settings=rt.settings, hasher=rt.hasher, actor=Actor())


def _events(rt, iid):
    with rt.db.read() as s:
        return [
            (e.seq, e.state, e.kind)
            for e in s.execute(
                select(UsageEvent).where(UsageEvent.instance_id == iid).order_by(UsageEvent.seq)
            ).scalars()
        ]


def test_state_changes_are_metered_once_whatever_is_redelivered(api, rt, tmp_path, client):
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path)
    cust = api.org(c.op, c.root_id, "customer", "C")
    iid = c.create(api.project(c.op, cust["id"])["id"], "small")
    c.when(at(1, 9, 1))
    for _ in range(3):  # an agent restarting re-reports what it sees
        c.report(iid, "RUNNING")
    c.action(iid, "start")  # already running: no transition
    c.when(at(1, 10))
    c.action(iid, "reboot")
    c.report(iid, "RUNNING", reboot_seq_done=1)
    c.report(iid, "RUNNING", reboot_seq_done=1)
    assert _events(rt, iid) == [
        (1, "BUILDING", "transition"),
        (2, "RUNNING", "transition"),
        (3, "REBOOTING", "transition"),
        (4, "RUNNING", "transition"),
    ]
    with rt.db.write() as s:  # the same transition delivered again by a second writer is refused
        s.add(
            UsageEvent(
                instance_id=iid,
                seq=4,
                at=rt.clock.now(),
                state="RUNNING",
                prev_state="REBOOTING",
                product="instance.small",
                project_id="p",
                org_id="o",
                org_path="/",
                region_id="r",
            )
        )
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
    # a state change that bypassed metering is caught by reconciliation, once
    c.when(at(1, 11))
    with rt.db.write() as s:
        s.execute(update(Instance).where(Instance.id == iid).values(state="STOPPED"))
    with rt.db.write() as s:
        fixes = metering.reconcile(_uc(rt, s))
    assert [(f.metered, f.stored) for f in fixes] == [("RUNNING", "STOPPED")]
    with rt.db.write() as s:
        assert metering.reconcile(_uc(rt, s)) == []
    assert _events(rt, iid)[-1] == (5, "STOPPED", "correction")
    c.when(at(2))
    with rt.db.read() as s:
        secs = metering.metered_seconds(_uc(rt, s), metering.periods.month_of(at(1)))
    # BUILDING 9:00-9:01; RUNNING 9:01-10:00 and 10:00-11:00 (the reboot took no whole second);
    # STOPPED from 11:00 until now (2 March 00:00)
    assert secs == {(iid, "BUILDING"): 60, (iid, "RUNNING"): 59 * 60 + 3600, (iid, "STOPPED"): 13 * 3600}


def test_invoices_are_immutable_and_prepaid_credit_and_budgets_work(api, rt, tmp_path, client):
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path)
    c.price("instance.small", "1.00")
    cust = api.org(c.op, c.root_id, "customer", "C", country="FR")
    pid = api.project(c.op, cust["id"])["id"]
    _, owner = api.user(c.op, cust["id"], ["admin"])
    budget = owner.ok(
        "POST",
        "/v1/billing/budgets",
        {"org_id": cust["id"], "name": "monthly", "amount": "10", "thresholds": [50, 100], "hard_stop": True},
    )
    iid = c.create(pid, "small")
    c.report(iid, "RUNNING")
    c.when(at(1, 15))  # 6 h at 1.00: 60 % of the budget
    assert c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)["items"][0]["threshold"] == 50
    assert c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)["items"] == []
    second = c.create(pid, "small")
    c.when(at(1, 19))  # 10 h: exhausted; existing instances keep running, new ones are refused
    r = c.op.post(
        "/v1/instances", json={"project_id": pid, "name": "x", "flavor": "small", "image": c.image_id}
    )
    assert r.status_code == 403 and "Budget 'monthly' is exhausted" in r.json()["detail"]
    events = owner.ok("GET", f"/v1/billing/budgets/{budget['id']}/events")["items"]
    assert [e["threshold"] for e in events] == [50]
    assert [e["threshold"] for e in c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)["items"]] == [
        100
    ]
    owner.ok("PATCH", f"/v1/billing/budgets/{budget['id']}", {"hard_stop": False}, status=200)
    c.create(pid, "small")
    assert owner.ok("GET", f"/v1/billing/budgets?org_id={cust['id']}")["items"][0]["spend"] == "10.00"
    c.action(second, "delete")
    c.op.ok("POST", "/v1/billing/credits", {"org_id": cust["id"], "amount": "1000", "reason": "prepaid"})
    assert owner.post("/v1/billing/credits", json={"org_id": cust["id"], "amount": "5"}).status_code in (
        403,
        404,
    )
    c.when(at(1, 0, 0, month=4))
    c.op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    (inv,) = owner.ok("GET", f"/v1/billing/invoices?org_id={cust['id']}")["items"]
    # first VM: 31 d - 9 h = 735 h; second: never RUNNING (BUILDING then deleted); third: never started
    assert (inv["total_net"], inv["total_gross"], inv["prepaid"], inv["amount_due"]) == (
        "735.00",
        "882.00",
        "882.00",
        "0.00",
    )
    assert owner.ok("GET", f"/v1/billing/credits?org_id={cust['id']}")["balance"] == "118.00"
    with rt.db.write() as s:
        row = s.get(Invoice, inv["id"])
        row.total_net = row.total_net + 1
        with pytest.raises(RuntimeError, match="immutable"):
            s.flush()
        s.rollback()
