"""The one table from domain errors to HTTP (RFC 9457 problem+json)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    errors.NotFound: (404, "Not found"),
    errors.Conflict: (409, "Conflict"),
    errors.QuotaExceeded: (403, "Quota exceeded"),
    errors.NoValidHost: (409, "No valid host"),
    errors.RateLimited: (429, "Too many requests"),
    errors.TemporaryError: (503, "Temporarily unavailable"),
    errors.PermanentError: (500, "Backend failure"),
    errors.DriverError: (502, "Backend failure"),
    errors.HexagoneError: (500, "Internal error"),
}


def status_for(exc: errors.HexagoneError) -> tuple[int, str]:
    for klass in type(exc).__mro__:
        if klass in STATUS:
            return STATUS[klass]
    return 500, "Internal error"


def problem(request: Request, status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", ""),
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="hexagone"'} if status == 401 else None
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
    response = problem(request, status, title, exc.message, exc.code, **extra)
    if (after := retry_after(exc)) is not None:
        response.headers["Retry-After"] = after
    return response


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
    return problem(request, exc.status_code, detail if exc.status_code != 404 else "Not found", detail, code)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    import logging

    logging.getLogger("hexagone.api").exception("unexpected error", extra={"request_id": request.state.request_id})
    return problem(request, 500, "Internal error",
                   "Something went wrong on our side; nothing was changed. Quote the request id to support.",
                   "internal")
