"""TOTP (RFC 6238, SHA-1, 6 digits, 30 s) and recovery codes. Pure: time is passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import urllib.parse

STEP = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(os.urandom(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def code_at(secret: str, step: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def step_of(unix_time: float) -> int:
    return int(unix_time // STEP)


def verify(secret: str, code: str, unix_time: float, last_used_step: int, window: int = 1) -> int | None:
    """The matching time step, or None. A step already used (replay) never matches again."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    now = step_of(unix_time)
    for step in range(now - window, now + window + 1):
        if step > last_used_step and hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str = "Hexagone") -> str:
    label = urllib.parse.quote(f"{issuer}:{account}")
    query = urllib.parse.urlencode({"secret": secret, "issuer": issuer, "digits": DIGITS, "period": STEP})
    return f"otpauth://totp/{label}?{query}"


def new_recovery_codes(count: int = 10) -> list[str]:
    """Ten single-use codes of 10 base32 characters (50 bits each), shown once."""
    codes = []
    for _ in range(count):
        raw = base64.b32encode(os.urandom(10)).decode()[:10].lower()
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes
