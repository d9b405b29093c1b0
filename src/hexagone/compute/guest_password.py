"""The guest's administrator password (Nova's ``adminPass``): generated, hashed, never stored in clear.

Nova returns ``adminPass`` once, in the server-create response, when ``enable_instance_password``
is on (its default). Hexagone does the same: the password the client gave, or a generated one, is
returned once and reduced at once to a SHA-512 crypt hash (``$6$...``, the format of
``/etc/shadow``). Only the hash is stored (``instances.admin_password_hash``), sent to the host's
agent and written into the NoCloud seed, where cloud-init (``password:``) and the tiny image's init
set it for the image's default user. The clear password exists only in the create request and its
response.

Pure functions: no database, no HTTP, no clock. Python's ``crypt`` module is deprecated (and gone
in 3.13), so SHA-512 crypt is implemented here, after Ulrich Drepper's specification
("Unix crypt using SHA-256 and SHA-512", 2007; the test vectors come from it).
"""

from __future__ import annotations

import hashlib
import secrets

#: Nova's generated passwords are 12 characters; these are 20 from a 56-character alphabet
#: without look-alikes (~116 bits).
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
GENERATED_LENGTH = 20
MAX_LENGTH = 255
ROUNDS = 5000  # the specification's default: the hash then carries no "rounds=" field

_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
    (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
)


def generate() -> str:
    """A new random password, as Nova makes one when the request gives none."""
    return "".join(secrets.choice(ALPHABET) for _ in range(GENERATED_LENGTH))


def problems(password: str) -> list[str]:
    """Why a given ``adminPass`` is refused (empty: accepted). Nova only requires a string; a
    line break or a colon would break the ``user:password`` lines guests are configured with."""
    out = []
    if not password or len(password) > MAX_LENGTH:
        out.append(f"adminPass must be 1 to {MAX_LENGTH} characters")
    if any(ch in password for ch in "\r\n\x00"):
        out.append("adminPass must be one line")
    return out


def _repeat(digest: bytes, length: int) -> bytes:
    return digest * (length // 64) + digest[: length % 64]


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_B64[w & 0x3F])
        w >>= 6
    return "".join(out)


def sha512_crypt(password: str, salt: str | None = None, rounds: int = ROUNDS) -> str:
    """``$6$salt$hash`` (``$6$rounds=N$salt$hash`` when ``rounds`` is not the default)."""
    pw = password.encode()
    salt_b = (salt if salt is not None else "".join(secrets.choice(_B64) for _ in range(16))).encode()[:16]
    rounds = max(1000, min(rounds, 999_999_999))
    b = hashlib.sha512(pw + salt_b + pw).digest()
    a = hashlib.sha512(pw + salt_b + _repeat(b, len(pw)))
    n = len(pw)
    while n:
        a.update(b if n & 1 else pw)
        n >>= 1
    c = a.digest()
    p = _repeat(hashlib.sha512(pw * len(pw)).digest(), len(pw))
    s = _repeat(hashlib.sha512(salt_b * (16 + c[0])).digest(), len(salt_b))
    for i in range(rounds):
        h = hashlib.sha512(p if i & 1 else c)
        if i % 3:
            h.update(s)
        if i % 7:
            h.update(p)
        h.update(c if i & 1 else p)
        c = h.digest()
    encoded = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _ORDER) + _b64(0, 0, c[63], 2)
    head = "$6$" if rounds == ROUNDS else f"$6$rounds={rounds}$"
    return f"{head}{salt_b.decode()}${encoded}"


def is_sha512_crypt(value: str) -> bool:
    """Whether ``value`` looks like what ``sha512_crypt`` returns (what seeds may carry)."""
    parts = value.split("$")
    return (
        len(parts) in (4, 5) and parts[0] == "" and parts[1] == "6" and len(parts[-1]) == 86
        and all(ch in _B64 for ch in parts[-1]) and all(ch in _B64 for ch in parts[-2])
    )
