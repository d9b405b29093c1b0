"""The one domain error tree. Every error Hexagone raises on purpose is one of these.

    HexagoneError
    ├── InvalidInput          the request is malformed or breaks a rule       (400 / 422)
    │   └── PayloadTooLarge   the body is over the configured limit           (413)
    ├── Unauthenticated       no, expired or wrong credentials                (401)
    │   └── MfaRequired       password right, second factor missing           (401)
    ├── Forbidden             authenticated, visible, but not allowed         (403)
    ├── NotFound              missing, or belongs to another tenant           (404)
    │   └── NotPriced         the flavor and region exist, the price does not (404)
    ├── Conflict              name taken, wrong state, idempotency mismatch   (409)
    ├── QuotaExceeded         a quota or capacity limit refuses the request   (403 quota)
    ├── NoValidHost           the scheduler found no host; names the filters  (409)
    ├── RateLimited           too many attempts                               (429)
    ├── Unavailable           a dependency is down or full (database lost,    (503 + Retry-After)
    │                         timed out, disk full): retry after ``retry_after``
    └── DriverError           a compute/storage backend failed
        ├── TemporaryError    retry later (carries ``delay`` seconds)
        └── PermanentError    retrying will not help

HTTP statuses live in one table (``hexagone.api.problems``), which also turns the transient
failures of the database, the disk and the network (lost connections, timeouts, ``ENOSPC``) into
``Unavailable``; CLI exit codes live in another (``hexagone.cli.output``). Messages are full
sentences that say what to do next.
"""

from __future__ import annotations


class HexagoneError(Exception):
    """Base of every deliberate Hexagone error."""

    code: str = "error"

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class InvalidInput(HexagoneError):
    code = "invalid-input"


class PayloadTooLarge(InvalidInput):
    code = "payload-too-large"


class Unauthenticated(HexagoneError):
    code = "unauthenticated"


class MfaRequired(Unauthenticated):
    code = "mfa-required"


class Forbidden(HexagoneError):
    code = "forbidden"


class NotFound(HexagoneError):
    code = "not-found"


class NotPriced(NotFound):
    code = "not-priced"


class Conflict(HexagoneError):
    code = "conflict"


class QuotaExceeded(HexagoneError):
    code = "quota-exceeded"


class NoValidHost(HexagoneError):
    code = "no-valid-host"


class RateLimited(HexagoneError):
    """Too many attempts or requests; retry after ``retry_after`` seconds (the Retry-After header)."""

    code = "rate-limited"

    def __init__(self, message: str, retry_after: float = 1.0, **extra: object) -> None:
        super().__init__(message, **extra)
        self.retry_after = retry_after


class Unavailable(HexagoneError):
    """A dependency of the request is down, overloaded or full; nothing was changed, and the same
    request can be retried after ``retry_after`` seconds. ``dependency`` names it (database, disk)."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int = 5, dependency: str = "", **extra: object) -> None:
        super().__init__(message, dependency=dependency, **extra)
        self.retry_after = retry_after
        self.dependency = dependency


class DriverError(HexagoneError):
    code = "driver-error"


class TemporaryError(DriverError):
    """A failure worth retrying after ``delay`` seconds."""

    code = "temporary-error"

    def __init__(self, message: str, delay: float = 5.0, **extra: object) -> None:
        super().__init__(message, **extra)
        self.delay = delay


class PermanentError(DriverError):
    """A failure retrying will not fix; the resource goes to ERROR with this message."""

    code = "permanent-error"
