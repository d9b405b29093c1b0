"""Image storage metered from hourly samples and billed in GB-months, checked against a figure
computed by hand. March 2026 (744 hours), region ``local``:

    wholesale image.gb 80.00 per GB-month; the operator's public price +25 % -> 100.00
    customer D1 stores image X (16 MiB = 1/64 GiB) from 1 March 09:00,
                       image Y (8 MiB = 1/128 GiB) from 11 March 09:10,
                       deletes X on 21 March 08:30.

Samples, one per hourly slot, each billing its whole slot (the first sample of a slot wins):
    1 Mar 09:00 .. 11 Mar 09:00   241 slots   X        (Y arrives after the 09:00 slot's sample)
    11 Mar 10:00 .. 21 Mar 08:00  239 slots   X + Y    = 1.5 X
    21 Mar 09:00 .. 31 Mar 23:00  255 slots   Y        = 0.5 X
    = 241 + 358.5 + 127.5 = 727 X-hours = 727/64 GiB-hours = 11.359375 GiB-hours
    GB-months = 11.359375 / 730 = 0.01556078767...       -> quantity 0.015561
    amount    = 11.359375 × 100 / 730 = 1.556078767...    -> 1.56 (rounded once)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from hexagone.audit.service import Actor
from hexagone.billing import metering
from hexagone.compute import jobs
from hexagone.db.billing_models import StorageSample
from hexagone.usecase import UseCase
from tests.integration.billing_helpers import at, cloud

pytestmark = pytest.mark.integration

MIB = 2**20
HOUR = dt.timedelta(hours=1)


def _sample(rt) -> int:
    with rt.db.write() as session:
        uc = UseCase(session=session, now=rt.clock.now(), settings=rt.settings, hasher=rt.hasher, actor=Actor())
        return metering.sample_storage(uc)


def _upload_raw(s, name: str, size: int) -> str:
    img = s.ok("POST", "/v1/images", {"name": name, "disk_format": "raw"})
    r = s.client.put(
        f"/v1/images/{img['id']}/file",
        content=b"\0" * size,
        headers={**s.headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code in (200, 204), r.text
    assert s.ok("GET", f"/v1/images/{img['id']}")["size_bytes"] == size
    return str(img["id"])


def test_image_storage_is_sampled_hourly_and_billed_in_gb_months(api, rt, tmp_path, client):
    rt.clock.set(at(1, 8))
    c = cloud(api, rt, tmp_path)
    c.price("image.gb", "80")
    c.rule(c.root_id, "markup", "25")
    d1 = api.org(c.op, c.root_id, "customer", "D1", country="FR", siren="732829320", address="1 rue X, Paris")
    _, admin = api.user(c.op, d1["id"], ["admin"])

    def hourly(start: dt.datetime, end: dt.datetime) -> None:
        t = start
        while t < end:
            c.when(t + dt.timedelta(minutes=5))
            if t.hour == 12:
                jobs.run_billing(rt)  # the 5-minute job samples too ...
            else:
                _sample(rt)
            if t.hour in (0, 12):
                c.when(t + dt.timedelta(minutes=35))
                assert _sample(rt) == 0  # ... and a second run in the same slot writes nothing
            t += HOUR

    c.when(at(1, 9))
    x = _upload_raw(admin, "x", 16 * MIB)
    hourly(at(1, 9), at(11, 10))
    c.when(at(11, 9, 10))
    _upload_raw(admin, "y", 8 * MIB)
    c.when(at(11, 9, 35))
    assert _sample(rt) == 0  # the 09:00 slot was sampled at 09:05, without Y: it stays so
    hourly(at(11, 10), at(21, 9))
    c.when(at(21, 8, 30))
    admin.ok("DELETE", f"/v1/images/{x}")
    hourly(at(21, 9), at(1, 0, month=4))

    with rt.db.read() as s:
        slots = s.execute(
            select(func.count(), func.count(func.distinct(StorageSample.slot))).where(
                StorageSample.org_id == d1["id"]
            )
        ).one()
    assert tuple(slots) == (735, 735)  # 744 hours - the 9 before X, once each

    c.when(at(1, 1, month=4))
    usage = c.op.ok("GET", f"/v1/billing/usage?org_id={d1['id']}&month=2026-03")
    assert [(ln["product"], ln["unit"], ln["quantity"], ln["amount"]) for ln in usage["lines"]] == [
        ("image.gb", "gb_month", "0.015561", "1.56")
    ]
    closed = c.op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    assert closed["unpriced"] == []
    (inv,) = c.op.ok("GET", f"/v1/billing/invoices?org_id={d1['id']}")["items"]
    doc = c.op.ok("GET", f"/v1/billing/invoices/{inv['id']}")
    assert [(ln["description"], ln["unit_price"], ln["quantity"], ln["amount"]) for ln in doc["lines"]] == [
        ("Image storage", "100", "0.015561", "1.56")
    ]
    assert doc["totals"]["net"] == "1.56" and D(doc["totals"]["vat"]) == D("0.31")  # 20 % of 1.56
    # a sample of April does not leak into March
    _sample(rt)
    c.op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    assert len(c.op.ok("GET", f"/v1/billing/invoices?org_id={d1['id']}")["items"]) == 1
