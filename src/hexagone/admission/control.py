"""``Admission``: the process's rate limiters, gate and failed-login tally, built from the settings.

The app holds one (``app.state.admission``) and gives it to each use case (``UseCase.admission``).
With ``admission_enabled`` false every check admits (used to measure what admission costs).
"""

from __future__ import annotations

from dataclasses import dataclass

from hexagone.admission.gate import Gate
from hexagone.admission.limits import FailureTally, MemoryRateLimiter, Rate, RateLimiter
from hexagone.errors import RateLimited
from hexagone.settings import Settings


@dataclass
class Admission:
    enabled: bool
    auth_per_source: RateLimiter
    auth_per_account: RateLimiter
    gate: Gate
    unknown_logins: FailureTally

    @classmethod
    def from_settings(cls, s: Settings) -> Admission:
        window = float(s.auth_rate_window_seconds)
        return cls(
            enabled=s.admission_enabled,
            auth_per_source=MemoryRateLimiter(Rate(s.auth_rate_per_source, window)),
            auth_per_account=MemoryRateLimiter(Rate(s.auth_rate_per_account, window)),
            gate=Gate(s.admission_concurrency_per_principal, s.admission_heavy_per_principal,
                      s.admission_heavy_slots, s.admission_queue_seconds, s.admission_refusal_delay_seconds),
            unknown_logins=FailureTally(window),
        )

    def check_source(self, source: str, now: float) -> RateLimited | None:
        """Count one authentication attempt from ``source``: the refusal when it is over its rate."""
        if not self.enabled:
            return None
        wait = self.auth_per_source.take("source:" + source, now)
        if wait:
            return RateLimited(
                "Too many authentication attempts from your address; wait before trying again.",
                retry_after=wait,
            )
        return None

    def check_account(self, account: str, now: float) -> None:
        """Count one authentication attempt for ``account`` (a login name, ``id:`` a user id);
        raise RateLimited (429) when it is over its rate."""
        if self.enabled and account:
            wait = self.auth_per_account.take("account:" + account.strip().lower()[:200], now)
            if wait:
                raise RateLimited(
                    "Too many authentication attempts for this account; wait before trying again.",
                    retry_after=wait,
                )
