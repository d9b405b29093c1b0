"""The one table from domain errors to HTTP (RFC 9457 problem+json), and the one table of
transient failures (a lost database, a timeout, a full disk) that answer 503 with ``Retry-After``
instead of 500: a client can then tell an outage, worth retrying, from a bug."""

from __future__ import annotations

import errno
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from hexagone import errors
from hexagone.api.middleware import BodyTooLarge

PROBLEM_BASE = "https://hexagone.dev/problems/"

#: error class -> (status, title). Looked up along the class's MRO, most specific first.
STATUS: dict[type[errors.HexagoneError], tuple[int, str]] = {
    errors.PayloadTooLarge: (413, "Request body too large"),
    errors.InvalidInput: (400, "Invalid input"),
    errors.MfaRequired: (401, "Second factor required"),
    errors.Unauthenticated: (401, "Authentication required"),
    errors.Forbidden: (403, "Forbidden"),
    errors.NotPriced: (404, "No price yet"),
    errors.NotFound: (404, "Not found"),
    errors.Conflict: (409, "Conflict"),
    errors.QuotaExceeded: (403, "Quota exceeded"),
    errors.NoValidHost: (409, "No valid host"),
    errors.RateLimited: (429, "Too many requests"),
    errors.Unavailable: (503, "Service unavailable"),
    errors.TemporaryError: (503, "Temporarily unavailable"),
    errors.PermanentError: (500, "Backend failure"),
    errors.DriverError: (502, "Backend failure"),
    errors.HexagoneError: (500, "Internal error"),
}


NOTHING_CHANGED = "nothing was changed; retry the same request (with the same Idempotency-Key) in a moment."
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _db_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).lower()


#: transient failure -> (dependency, cause sentence, Retry-After seconds). The first match along
#: the exception and its causes wins; anything else unexpected stays a 500 (a bug).
TRANSIENT: list[tuple[Callable[[BaseException], bool], str, str, int]] = [
    (lambda e: isinstance(e, OSError) and e.errno in _DISK_FULL,
     "disk", "The data disk is full", 30),
    (lambda e: isinstance(e, OSError) and e.errno == errno.EROFS,
     "disk", "The data disk is read-only", 30),
    (lambda e: isinstance(e, sa_exc.DBAPIError) and any(
        w in _db_message(e) for w in ("database or disk is full", "no space left", "disk quota")),
     "disk", "The database's disk is full", 30),
    (lambda e: isinstance(e, sa_exc.DBAPIError) and any(
        w in _db_message(e) for w in ("database is locked", "deadlock", "could not serialize")),
     "database", "The database is busy with conflicting work", 1),
    (lambda e: isinstance(e, sa_exc.DBAPIError) and any(
        w in _db_message(e) for w in ("statement timeout", "lock timeout", "timeout expired", "timed out")),
     "database", "The database did not answer in time", 2),
    (lambda e: isinstance(e, sa_exc.TimeoutError),
     "database", "Every database connection is busy (pool timeout)", 2),
    (lambda e: isinstance(e, sa_exc.DBAPIError) and (
        e.connection_invalidated or isinstance(e, sa_exc.OperationalError | sa_exc.InterfaceError)),
     "database", "The database cannot be reached", 5),
    (lambda e: isinstance(e, sa_exc.DisconnectionError), "database", "The database cannot be reached", 5),
    (lambda e: isinstance(e, TimeoutError), "network", "A dependency did not answer in time", 5),
    (lambda e: isinstance(e, ConnectionError), "network", "A dependency cannot be reached", 5),
]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def as_unavailable(exc: BaseException) -> errors.Unavailable | None:
    """The ``Unavailable`` a transient infrastructure failure stands for, or None (a bug)."""
    if isinstance(exc, errors.Unavailable):
        return exc
    for link in _chain(exc):
        for matches, dependency, cause, retry_after in TRANSIENT:
            if matches(link):
                return errors.Unavailable(f"{cause}: {NOTHING_CHANGED}", retry_after=retry_after,
                                          dependency=dependency, cause=cause)
    return None


def status_for(exc: errors.HexagoneError) -> tuple[int, str]:
    for klass in type(exc).__mro__:
        if klass in STATUS:
            return STATUS[klass]
    return 500, "Internal error"


def problem(request: Request, status: int, title: str, detail: str, code: str, *,
            retry_after: int | None = None, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", ""),
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="hexagone"'} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, int(retry_after)))
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def retry_after(exc: errors.HexagoneError) -> str | None:
    """The Retry-After header (whole seconds, at least 1) of an error that says when to retry."""
    delay = getattr(exc, "retry_after", None)
    if delay is None and isinstance(exc, errors.TemporaryError):
        delay = exc.delay
    return None if delay is None else str(max(1, math.ceil(delay)))


def error_response(request: Request, exc: errors.HexagoneError) -> JSONResponse:
    status, title = status_for(exc)
    extra = {k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool | list | dict)}
    after = retry_after(exc)  # Unavailable and RateLimited carry retry_after, TemporaryError a delay
    return problem(request, status, title, exc.message, exc.code,
                   retry_after=int(after) if after is not None else None, **extra)


async def on_hexagone_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.HexagoneError)
    return error_response(request, exc)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errs):
        return problem(request, 400, "Malformed JSON", "The request body is not valid JSON.", "malformed-json")
    fields = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": str(e.get("msg", ""))}
        for e in errs[:20]
    ]
    detail = "; ".join(f"{f['field'] or 'body'}: {f['message']}" for f in fields[:5])
    return problem(request, 422, "Invalid input", f"The request does not match the schema: {detail}.",
                   "validation", errors=fields)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, BodyTooLarge):  # a streamed body went over the limit while being read
        limit = request.app.state.settings.max_body_bytes
        return problem(request, 413, "Request body too large",
                       f"The request body is over the {limit}-byte limit; send less data.", "payload-too-large")
    if exc.status_code == 400:  # FastAPI's "error parsing the body": undecodable or too deeply nested
        return problem(request, 400, "Malformed JSON", "The request body is not valid JSON.", "malformed-json")
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    detail = str(exc.detail) if exc.status_code != 404 else "There is nothing at this address."
    headers = dict(exc.headers or {})  # Starlette's own headers go with the problem
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    response = problem(request, exc.status_code, detail if exc.status_code != 404 else "Not found", detail, code)
    response.headers.update(headers)
    return response


def allowed_methods(request: Request) -> list[str]:
    """Every method served at this path (RFC 9110 Allow): Starlette names only the first matching
    route's, and FastAPI registers one route per method."""
    from hexagone.api.routing import flat_routes

    by_template: dict[str, set[str]] = {}
    for route in flat_routes(request.app.router.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            by_template.setdefault(route.path, set()).update(getattr(route, "methods", None) or ())
    if not by_template:
        return []
    # /v1/hosts/join-tokens also matches /v1/hosts/{host_id}: the literal path is the resource meant
    return sorted(by_template[min(by_template, key=lambda template: template.count("{"))])


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """One log record per failure: a transient one (503) without its traceback, a bug (500) with."""
    log = logging.getLogger("hexagone.api")
    unavailable = as_unavailable(exc)
    if unavailable is not None:
        cause = str(getattr(exc, "orig", None) or exc).strip()
        log.warning("%s %s: %s unavailable (%s: %s)", request.method, request.url.path, unavailable.dependency,
                    type(exc).__name__, cause.splitlines()[0][:200] if cause else "")
        return error_response(request, unavailable)
    log.error("%s %s: unexpected error", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "Internal error",
                   "Something went wrong on our side; nothing was changed. Quote the request id to support.",
                   "internal")
