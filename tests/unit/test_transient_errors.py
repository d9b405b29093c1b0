"""The one table of transient failures: what answers 503 (and names its cause), what stays a 500."""

from __future__ import annotations

import errno

import pytest
from sqlalchemy import exc as sa_exc

from hexagone.api.problems import as_unavailable

pytestmark = pytest.mark.unit


def _db(message: str, invalidated: bool = False) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, Exception(message), connection_invalidated=invalidated)


def _chained() -> BaseException:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(("exc", "dependency", "words"), [
    (OSError(errno.ENOSPC, "No space left on device"), "disk", "The data disk is full"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk", "The data disk is full"),
    (OSError(errno.EROFS, "Read-only file system"), "disk", "read-only"),
    (_db("could not extend file: No space left on device"), "disk", "database's disk is full"),
    (_db("database or disk is full"), "disk", "database's disk is full"),
    (_db("connection failed: Connection refused", invalidated=True), "database", "cannot be reached"),
    (_db("terminating connection due to administrator command"), "database", "cannot be reached"),
    (_db("canceling statement due to statement timeout"), "database", "did not answer in time"),
    (_db("database is locked"), "database", "busy"),
    (sa_exc.TimeoutError("QueuePool limit reached"), "database", "pool timeout"),
    (TimeoutError(), "network", "did not answer in time"),
    (_chained(), "disk", "The data disk is full"),
])
def test_transient_failures_answer_503_naming_their_cause(exc, dependency, words):
    unavailable = as_unavailable(exc)
    assert unavailable is not None and unavailable.dependency == dependency
    assert words in unavailable.message and unavailable.retry_after >= 1
    assert "nothing was changed" in unavailable.message


@pytest.mark.parametrize("exc", [RuntimeError("a bug"), KeyError("x"), OSError(errno.EACCES, "Permission denied"),
                                 sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key"))])
def test_bugs_stay_500(exc):
    assert as_unavailable(exc) is None
