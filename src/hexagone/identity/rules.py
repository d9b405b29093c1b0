"""Pure identity rules: password policy, legal identifiers, names. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping

COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password123",
        "123456789012",
        "azertyuiop12",
        "qwertyuiop12",
        "motdepasse12",
        "changeme1234",
        "administrator",
        "letmein12345",
        "welcome12345",
        "passwordpassword",
        "000000000000",
        "111111111111",
        "aaaaaaaaaaaa",
        "hexagone1234",
    }
)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}\Z")
COUNTRY_RE = re.compile(r"^[A-Z]{2}\Z")
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
VAT_RE = re.compile(r"^(?:[A-Z]{2}|EL)[A-Z0-9+*]{2,13}\Z")


def password_problems(password: str, *, min_length: int, username: str = "") -> list[str]:
    """Why a password is refused (empty list: accepted). NIST SP 800-63B style: length, not
    composition rules; refuse known-common passwords and ones containing the login."""
    problems = []
    if len(password) < min_length:
        problems.append(f"it must be at least {min_length} characters long")
    if len(password) > 256:
        problems.append("it must be at most 256 characters long")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        problems.append("it is too common or too repetitive")
    if username and len(username) >= 3 and username.lower() in lowered:
        problems.append("it must not contain the login name")
    return problems


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def siren_ok(siren: str) -> bool:
    return len(siren) == 9 and siren.isascii() and siren.isdigit() and luhn_ok(siren)


def siret_ok(siret: str) -> bool:
    # La Poste's establishments (SIREN 356000000) use a digit-sum checksum; its head office
    # (35600000000048) follows Luhn like everyone else, so accept either.
    if len(siret) != 14 or not (siret.isascii() and siret.isdigit()):
        return False
    if siret.startswith("356000000"):
        return sum(int(c) for c in siret) % 5 == 0 or luhn_ok(siret)
    return luhn_ok(siret)


def vat_id_looks_valid(vat_id: str) -> bool:
    return bool(VAT_RE.match(vat_id.replace(" ", "").upper()))


def legal_problems(country: str, vat_id: str, siren: str, siret: str) -> list[str]:
    """Why an organisation's legal details are refused (empty list: accepted)."""
    problems = []
    if not COUNTRY_RE.match(country):
        problems.append("country must be an ISO 3166-1 alpha-2 code such as FR")
    if vat_id and not vat_id_looks_valid(vat_id):
        problems.append("vat_id must look like an EU VAT number, such as FR40303265045")
    if siren and not siren_ok(siren):
        problems.append("siren must be 9 digits with a valid check digit")
    if siret and not siret_ok(siret):
        problems.append("siret must be 14 digits with a valid check digit")
    if siren and siret and not siret.startswith(siren):
        problems.append("siret must start with the siren")
    if (siren or siret) and country != "FR":
        problems.append("siren and siret apply to French organisations only (country FR)")
    return problems


# What an organisation's legal identity needs before it may issue e-invoices (EN 16931):
#   every issuer              a legal name and a postal address (BT-27, BG-5)
#   issuer in France          its SIREN (or SIRET), the legal registration id (BT-30)
#   issuer in the EU          its VAT id (BT-31): standard rate, reverse charge and exempt invoices
#                             all require it (BR-S-02, BR-AE-02, BR-E-02)
#   issuer outside the EU     a registration id (kept in ``vat_id``, e.g. a Swiss UID), written as
#                             BT-30: "not subject to VAT" invoices carry no VAT id (BR-O-02), and
#                             BR-CO-26 wants one identifier of the seller.


def issuing_gaps(legal: Mapping[str, str]) -> list[str]:
    """What ``legal`` (the fields of ``pricing.legal_of``) lacks before it may issue invoices."""
    country = legal.get("country") or "FR"
    gaps = []
    if not (legal.get("legal_name") or "").strip():
        gaps.append("a legal name")
    if not (legal.get("address") or "").strip():
        gaps.append("a postal address")
    if country == "FR" and not (legal.get("siren") or legal.get("siret")):
        gaps.append("a SIREN or SIRET")
    if not (legal.get("vat_id") or "").strip():
        gaps.append("a VAT id" if country in EU_COUNTRIES else "a company registration id (in vat_id)")
    return gaps


def gaps_sentence(name: str, gaps: list[str]) -> str:
    return (
        f"{name} cannot issue invoices yet: its legal identity lacks {', '.join(gaps)}. "
        "Complete it with `hexagone org update` (or PATCH /v1/organisations/{id})."
    )
