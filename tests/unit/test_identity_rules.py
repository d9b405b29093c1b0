"""Pure identity rules: password policy, legal identifiers, names."""

from __future__ import annotations

import pytest

from hexagone.identity.rules import NAME_RE, legal_problems, luhn_ok, password_problems, siren_ok, siret_ok

pytestmark = pytest.mark.unit


def test_password_length_and_commonness():
    assert password_problems("a-long-enough-passphrase", min_length=12) == []
    assert any("at least 12" in p for p in password_problems("short", min_length=12))
    assert any("at most 256" in p for p in password_problems("x1" * 200, min_length=12))
    assert password_problems("Password123", min_length=8) == ["it is too common or too repetitive"]
    assert password_problems("abababababab", min_length=12) == ["it is too common or too repetitive"]


def test_password_must_not_contain_the_login():
    assert password_problems("xx-alice-passphrase", min_length=12, username="Alice")
    assert password_problems("xx-al-passphrase", min_length=12, username="al") == []


def test_unicode_passwords_are_counted_in_characters():
    assert password_problems("пароль-длинный-очень", min_length=12) == []


def test_luhn_siren_siret():
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert siren_ok("213105554") and not siren_ok("213105555") and not siren_ok("21310555")
    assert siret_ok("21310555400017") and not siret_ok("21310555400018")
    assert siret_ok("35600000000048")  # La Poste's head office: Luhn
    assert siret_ok("35600000049837")  # a La Poste establishment: digit sum divisible by 5
    assert not siret_ok("3560000000004x")
    assert not siren_ok("２１３１０５５５４") and not siret_ok("٢١٣١٠٥٥٥٤٠٠٠١٧")  # non-ASCII digits


def test_legal_problems():
    assert legal_problems("FR", "FR40213105554", "213105554", "21310555400017") == []
    assert legal_problems("fr", "", "", "")
    assert legal_problems("DE", "", "213105554", "")
    assert legal_problems("FR", "", "213105554", "55210055400013")  # siret of another siren
    assert legal_problems("FR", "12345", "", "")
    assert legal_problems("GR", "EL123456789", "", "") == []


@pytest.mark.parametrize("name", ["alice", "a.b-c_d@e+f", "A1", "x" * 100])
def test_names_accepted(name):
    assert NAME_RE.match(name)


@pytest.mark.parametrize(
    "name", ["", ".alice", "al ice", "x" * 101, "al\x00ice", "alïce", "al/ice", "alice\n"]
)
def test_names_refused(name):
    assert not NAME_RE.match(name)
