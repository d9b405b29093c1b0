"""The Factur-X (EN 16931 profile) XML of an invoice: UN/CEFACT Cross Industry Invoice D16B.

Built from the JSON form of the invoice (``csvjson.document``). Element order follows the XSD
shipped with the ``factur-x`` library, which the tests validate against. Unit codes (UN/ECE
Rec. 20): HUR hour, E34 gigabyte, C62 one (a GB-month is billed as a count of GB-months).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
UNIT_CODES = {"hour": "HUR", "gb": "E34", "gb_month": "C62"}
PROFILE = "urn:cen.eu:en16931:2017"


def _el(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    prefix, _, name = tag.partition(":")
    node = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if text is not None:
        node.text = text
    return node


def _date(parent: Any, tag: str, iso: str) -> None:
    node = _el(parent, tag)
    _el(node, "udt:DateTimeString", iso[:10].replace("-", ""), format="102")


def _party(parent: Any, tag: str, p: dict[str, str], category: str, seller: bool) -> None:
    """A trade party as the VAT category's rules want it: "not subject to VAT" (O) carries no VAT
    id on either side (BR-O-02), so a non-EU seller's registration id (kept in ``vat_id``) is
    written as its legal registration id (BT-30) instead; French parties carry their SIREN."""
    party = _el(parent, tag)
    _el(party, "ram:Name", p.get("legal_name") or p.get("name") or "-")
    vat_id = (p.get("vat_id") or "").replace(" ", "").upper()
    if p.get("siren") or p.get("siret"):
        legal = _el(party, "ram:SpecifiedLegalOrganization")
        _el(legal, "ram:ID", p.get("siren") or p["siret"][:9], schemeID="0002")
    elif seller and vat_id and category == "O":
        _el(_el(party, "ram:SpecifiedLegalOrganization"), "ram:ID", vat_id)
    addr = _el(party, "ram:PostalTradeAddress")
    if p.get("address"):
        _el(addr, "ram:LineOne", p["address"][:200])
    _el(addr, "ram:CountryID", p.get("country") or "FR")
    if vat_id and category != "O":
        reg = _el(party, "ram:SpecifiedTaxRegistration")
        _el(reg, "ram:ID", vat_id, schemeID="VA")


def _tax(parent: Any, doc: dict[str, Any], basis: str | None = None, calculated: str | None = None) -> None:
    tax = _el(parent, "ram:ApplicableTradeTax")
    if calculated is not None:
        _el(tax, "ram:CalculatedAmount", calculated)
    _el(tax, "ram:TypeCode", "VAT")
    if basis is not None and doc["vat"]["category"] != "S":
        _el(tax, "ram:ExemptionReason", doc["vat"]["note"] or "Exonération")
    if basis is not None:
        _el(tax, "ram:BasisAmount", basis)
    _el(tax, "ram:CategoryCode", doc["vat"]["category"])
    if doc["vat"]["category"] != "O":
        _el(tax, "ram:RateApplicablePercent", _num(doc["vat"]["rate"]))


def _num(value: str) -> str:
    """Decimal strings as the XSD wants them (no exponent, no trailing zeros beyond 2 places)."""
    from decimal import Decimal

    d = Decimal(value)
    text = format(d, "f")
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return text


def build(doc: dict[str, Any], notes: list[tuple[str, str]] | None = None) -> bytes:
    """The CII XML of ``doc``. ``notes``: (subject code, text) pairs, e.g. the legal mentions."""
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    ctx = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", PROFILE)
    head = _el(root, "rsm:ExchangedDocument")
    _el(head, "ram:ID", doc["number"])
    _el(head, "ram:TypeCode", doc["type_code"])
    _date(head, "ram:IssueDateTime", doc["issued_at"])
    for subject, text in notes or []:
        note = _el(head, "ram:IncludedNote")
        _el(note, "ram:Content", text)
        _el(note, "ram:SubjectCode", subject)
    trade = _el(root, "rsm:SupplyChainTradeTransaction")
    for ln in doc["lines"]:
        item = _el(trade, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(ln["position"]))
        product = _el(item, "ram:SpecifiedTradeProduct")
        _el(product, "ram:SellerAssignedID", ln["product"])
        _el(product, "ram:Name", ln["description"])
        _el(
            product,
            "ram:Description",
            f"{ln['customer_name']} / {ln['project_name'] or ln['project_id']} / {ln['region_name']}",
        )
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        _el(_el(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", _num(ln["unit_price"]))
        delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
        unit = UNIT_CODES.get(ln["unit"], "C62") if not ln["label"].startswith("credit:") else "C62"
        _el(delivery, "ram:BilledQuantity", _num(ln["quantity"]), unitCode=unit)
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        _tax(settlement, doc)
        _el(
            _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"),
            "ram:LineTotalAmount",
            _num(ln["amount"]),
        )
    agreement = _el(trade, "ram:ApplicableHeaderTradeAgreement")
    category = doc["vat"]["category"]
    _party(agreement, "ram:SellerTradeParty", doc["issuer"], category, seller=True)
    _party(agreement, "ram:BuyerTradeParty", doc["account"], category, seller=False)
    _el(trade, "ram:ApplicableHeaderTradeDelivery")
    settle = _el(trade, "ram:ApplicableHeaderTradeSettlement")
    _el(settle, "ram:InvoiceCurrencyCode", doc["currency"])
    totals = doc["totals"]
    _tax(settle, doc, basis=_num(totals["net"]), calculated=_num(totals["vat"]))
    period = _el(settle, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", doc["period"]["start"])
    _date(period, "ram:EndDateTime", _last_day(doc["period"]["end"]))
    terms = _el(settle, "ram:SpecifiedTradePaymentTerms")
    _el(terms, "ram:Description", f"Payable by {doc['due_at'][:10]}")
    _date(terms, "ram:DueDateDateTime", doc["due_at"])
    sums = _el(settle, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(sums, "ram:LineTotalAmount", _num(totals["net"]))
    _el(sums, "ram:TaxBasisTotalAmount", _num(totals["net"]))
    _el(sums, "ram:TaxTotalAmount", _num(totals["vat"]), currencyID=doc["currency"])
    _el(sums, "ram:GrandTotalAmount", _num(totals["gross"]))
    if totals["prepaid"] not in ("0", "0.00"):
        _el(sums, "ram:TotalPrepaidAmount", _num(totals["prepaid"]))
    _el(sums, "ram:DuePayableAmount", _num(totals["due"]))
    if doc.get("corrects_number"):
        ref = _el(settle, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", doc["corrects_number"])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _last_day(end_iso: str) -> str:
    """The billing period ends (exclusive) at midnight: its last day is the day before."""
    import datetime as dt

    end = dt.datetime.fromisoformat(end_iso)
    return (end - dt.timedelta(seconds=1)).date().isoformat()


def check(xml: bytes) -> bool:
    """Validate against the EN 16931 XSD shipped with the ``factur-x`` library (raises if invalid)."""
    from facturx import xml_check_xsd

    return bool(xml_check_xsd(xml, flavor="factur-x", level="en16931"))
