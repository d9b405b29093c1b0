"""An organisation's tax identity (legal name, country, VAT number, SIREN/SIRET) decides the VAT on
its invoices, so only its issuer (the organisation above it) or the operator may change it. A
customer admin used to set its own country/VAT number and so pick reverse charge (0 %)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import RESELLER_LEGAL

pytestmark = pytest.mark.integration

TAX_CHANGES: list[dict[str, Any]] = [
    {"country": "DE"},
    {"vat_id": "DE123456789"},
    {"legal_name": "Another SAS"},
    {"siren": "732829320"},
]


def last_update(s: Any, org_id: str) -> dict[str, Any]:
    items = s.ok("GET", f"/v1/audit/events?action=org.update&resource_id={org_id}&limit=100")["items"]
    return dict(items[-1])


def test_a_customer_admin_cannot_change_its_own_tax_identity(api):
    op = api.admin()
    reseller = api.org(op, api.root_id(op), "reseller", **RESELLER_LEGAL)
    _, r_admin = api.user(op, reseller["id"], ["admin"])
    cust = api.org(r_admin, reseller["id"], "customer", country="FR")
    _, c_admin = api.user(op, cust["id"], ["owner"])
    for change in TAX_CHANGES:
        r = c_admin.patch(f"/v1/organisations/{cust['id']}", json=change)
        assert r.status_code == 403, (change, r.text)
        assert "provider" in r.json()["detail"]
    assert op.ok("GET", f"/v1/organisations/{cust['id']}")["country"] == "FR"
    # what is not tax identity stays theirs, and re-sending the same value is no change
    c_admin.ok("PATCH", f"/v1/organisations/{cust['id']}", {"address": "2 rue Neuve, Lyon", "country": "FR"})
    # a reseller admin is not the issuer of its own reseller's invoices either
    assert r_admin.patch(f"/v1/organisations/{reseller['id']}", json={"vat_id": "DE123456789"}).status_code == 403


def test_the_issuer_or_the_operator_changes_it_and_the_change_is_audited(api):
    op = api.admin()
    reseller = api.org(op, api.root_id(op), "reseller", **RESELLER_LEGAL)
    _, r_admin = api.user(op, reseller["id"], ["admin"])
    cust = api.org(r_admin, reseller["id"], "customer", country="FR")
    r_admin.ok("PATCH", f"/v1/organisations/{cust['id']}", {"country": "DE", "vat_id": "DE123456789"})
    rec = last_update(op, cust["id"])
    assert rec["details"]["tax_identity"] == {
        "country": {"from": "FR", "to": "DE"}, "vat_id": {"from": "", "to": "DE123456789"}}
    assert rec["actor_name"] == r_admin.user["name"]
    op.ok("PATCH", f"/v1/organisations/{reseller['id']}", {"legal_name": "Revendeur SAS"})
    assert last_update(op, reseller["id"])["details"]["tax_identity"]["legal_name"]["to"] == "Revendeur SAS"
