"""VAT of an invoice, by the issuer's and the customer's countries. Pure.

    issuer and customer in the same EU country     that country's standard rate         (S)
    customer in another EU country with a VAT id   reverse charge, 0 %                  (AE)
      that looks valid and matches its country     "Autoliquidation" mention
    customer in another EU country, no VAT id      the customer's country's rate (OSS:  (S)
      (a consumer)                                 electronic services, since 2015)
    customer outside the EU                        no VAT, art. 259-1 CGI mention       (E)
    issuer outside the EU                          no VAT                               (O)

VAT is computed per rate on the sum of the lines (EN 16931 BR-CO-17), rounded once to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from hexagone.billing.rating import money
from hexagone.identity.rules import EU_COUNTRIES, vat_id_looks_valid

#: Standard VAT rates of the EU member states (percent), used for consumers under OSS.
STANDARD_RATES: dict[str, Decimal] = {
    k: Decimal(v)
    for k, v in {
        "AT": "20",
        "BE": "21",
        "BG": "20",
        "CY": "19",
        "CZ": "21",
        "DE": "19",
        "DK": "25",
        "EE": "24",
        "ES": "21",
        "FI": "25.5",
        "FR": "20",
        "GR": "24",
        "HR": "25",
        "HU": "27",
        "IE": "23",
        "IT": "22",
        "LT": "21",
        "LU": "17",
        "LV": "21",
        "MT": "18",
        "NL": "21",
        "PL": "23",
        "PT": "23",
        "RO": "21",
        "SE": "25",
        "SI": "22",
        "SK": "23",
    }.items()
}

REVERSE_CHARGE_NOTE = (
    "Autoliquidation : TVA due par le preneur (art. 283-2 du CGI, art. 196 de la directive 2006/112/CE)."
)
OUTSIDE_EU_NOTE = "TVA non applicable, art. 259-1 du CGI (preneur établi hors de l'Union européenne)."
NO_VAT_NOTE = "Pas de TVA : l'émetteur n'est pas établi dans l'Union européenne."


@dataclass(frozen=True)
class VatTreatment:
    category: str  # UNCL 5305: S standard, AE reverse charge, E exempt, O outside scope
    rate: Decimal  # percent
    note: str = ""

    def tax(self, base: Decimal) -> Decimal:
        return money(base * self.rate / 100)


def vat_prefix(country: str) -> str:
    return "EL" if country == "GR" else country


def vat_id_matches(vat_id: str, country: str) -> bool:
    """A VAT id that looks valid and belongs to ``country``."""
    vid = vat_id.replace(" ", "").upper()
    return bool(vid) and vat_id_looks_valid(vid) and vid.startswith(vat_prefix(country))


def treatment(issuer_country: str, customer_country: str, customer_vat_id: str) -> VatTreatment:
    if issuer_country not in EU_COUNTRIES:
        return VatTreatment("O", Decimal(0), NO_VAT_NOTE)
    if customer_country == issuer_country:
        return VatTreatment("S", STANDARD_RATES[issuer_country])
    if customer_country in EU_COUNTRIES:
        if vat_id_matches(customer_vat_id, customer_country):
            return VatTreatment("AE", Decimal(0), REVERSE_CHARGE_NOTE)
        return VatTreatment("S", STANDARD_RATES[customer_country])
    return VatTreatment("E", Decimal(0), OUTSIDE_EU_NOTE)


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal


def totals(line_amounts: Iterable[Decimal], vat: VatTreatment) -> Totals:
    """Net = the sum of the (already rounded) lines; VAT once on the net; gross = net + VAT."""
    net = sum(line_amounts, Decimal("0.00"))
    tax = vat.tax(net)
    return Totals(net, tax, net + tax)
