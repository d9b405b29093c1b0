"""RFC 6238 TOTP against the RFC's own test vectors (Appendix B, SHA-1), and replay refusal."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from hexagone.identity import totp

pytestmark = pytest.mark.unit

#: RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
SECRET = base64.b32encode(b"12345678901234567890").decode()
#: (unix time, 8-digit TOTP) for SHA-1; code_at gives 6 digits, i.e. the value mod 10**6.
VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "eight_digits"), VECTORS)
def test_rfc6238_sha1_vectors(unix_time, eight_digits):
    assert totp.code_at(SECRET, totp.step_of(unix_time)) == eight_digits[-6:]


def test_verify_accepts_one_step_of_drift_and_refuses_more():
    t = 1234567890
    step = totp.step_of(t)
    for drift in (-1, 0, 1):
        assert totp.verify(SECRET, totp.code_at(SECRET, step + drift), t, 0) == step + drift
    assert totp.verify(SECRET, totp.code_at(SECRET, step + 2), t, 0) is None
    assert totp.verify(SECRET, totp.code_at(SECRET, step - 2), t, 0) is None


def test_a_used_step_never_matches_again():
    t = 1234567890
    step = totp.step_of(t)
    code = totp.code_at(SECRET, step)
    assert totp.verify(SECRET, code, t, step) is None
    assert totp.verify(SECRET, totp.code_at(SECRET, step - 1), t, step) is None
    assert totp.verify(SECRET, totp.code_at(SECRET, step + 1), t, step) == step + 1


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12 34 5x", "١٢٣٤٥٦"])
def test_malformed_codes_are_refused(bad):
    assert totp.verify(SECRET, bad, 59, 0) is None


def test_spaces_in_a_code_are_ignored():
    code = totp.code_at(SECRET, totp.step_of(59))
    assert totp.verify(SECRET, f" {code[:3]} {code[3:]} ", 59, 0) == 1


def test_new_secret_is_160_bits_of_base32_without_padding():
    s = totp.new_secret()
    assert "=" not in s and len(base64.b32decode(s + "=" * (-len(s) % 8))) == 20
    assert totp.new_secret() != s


def test_provisioning_uri():
    uri = urllib.parse.urlparse(totp.provisioning_uri("ABC", "alice@x"))
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    q = urllib.parse.parse_qs(uri.query)
    assert q == {"secret": ["ABC"], "issuer": ["Hexagone"], "digits": ["6"], "period": ["30"]}


def test_recovery_codes_are_unique_and_well_formed():
    codes = totp.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
