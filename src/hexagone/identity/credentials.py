"""Hashing of secrets: argon2id for passwords, a keyed hash (HMAC-SHA256) for high-entropy tokens
and API keys, and a dummy verification so an unknown user costs the same as a wrong password."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hexagone.admission.slots import BoundedSlots, SlotsFull
from hexagone.errors import RateLimited

BUSY = "The server is busy checking other passwords; retry in a moment."


class Hasher:
    def __init__(self, key: bytes, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4,
                 queue_max: int = 8, queue_seconds: float = 2.0) -> None:
        self._key = key
        self._derived: dict[str, bytes] = {}
        self._ph = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy = self._ph.hash(secrets.token_urlsafe(16))
        # At most one argon2id computation per core: bounds memory (m per computation) and keeps
        # latency predictable under a login flood instead of thrashing. The queue is bounded too:
        # beyond ``queue_max`` waiting, or after ``queue_seconds``, RateLimited (429 Retry-After).
        self.slots = BoundedSlots(os.cpu_count() or 1, queue_max, queue_seconds)

    def hash_password(self, password: str) -> str:
        with self._slot():
            return self._ph.hash(password)

    def verify_password(self, stored: str | None, password: str) -> bool:
        """Always runs one argon2id verification, against a dummy hash when ``stored`` is None.
        Raises RateLimited, before any work, when the hashing queue is full."""
        with self._slot():
            try:
                return self._ph.verify(stored or self._dummy, password) and stored is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def _slot(self) -> _Held:
        try:
            self.slots.acquire()
        except SlotsFull as full:
            raise RateLimited(BUSY, retry_after=full.retry_after) from None
        return _Held(self.slots)

    def needs_rehash(self, stored: str) -> bool:
        return self._ph.check_needs_rehash(stored)

    def keyed(self, secret: str) -> str:
        """Keyed hash of a high-entropy secret (token, API key, recovery code)."""
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def derived_key(self, purpose: str) -> bytes:
        """A key for one purpose (e.g. ``audit-chain/v2``), derived from the installation's key so
        that it too lives outside the database, and independent of every other purpose's key."""
        if purpose not in self._derived:
            self._derived[purpose] = hmac.new(self._key, b"hexagone derived key|" + purpose.encode(),
                                              hashlib.sha256).digest()
        return self._derived[purpose]


class _Held:
    """A slot already acquired, released on exit."""

    def __init__(self, slots: BoundedSlots) -> None:
        self._slots = slots

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self._slots.release()


def new_token() -> str:
    return "hxt_" + secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """(visible prefix, full secret). The prefix identifies the key in listings."""
    prefix = secrets.token_hex(4)
    return prefix, f"hxk_{prefix}_{secrets.token_urlsafe(32)}"
