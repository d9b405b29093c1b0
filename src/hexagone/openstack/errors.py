"""OpenStack-shaped error bodies, one table per service family.

The native API answers RFC 9457 problem+json (``hexagone.api.problems``); the OpenStack facade
answers what the OpenStack clients parse instead, from the same domain errors:

    Nova     {"itemNotFound": {"code": 404, "message": "..."}}   (badRequest, forbidden, ...)
    Keystone {"error": {"code": 401, "title": "Unauthorized", "message": "..."}}
    Glance   {"code": 404, "title": "Not Found", "message": "..."}
    Neutron  {"NeutronError": {"type": "HTTPNotFound", "message": "...", "detail": ""}}

Clients mostly look only at the status code; the bodies carry Hexagone's full-sentence message.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from hexagone import errors
from hexagone.api.problems import retry_after, status_for

#: HTTP status -> (Nova fault key, Keystone/Glance title)
FAULTS: dict[int, tuple[str, str]] = {
    400: ("badRequest", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("itemNotFound", "Not Found"),
    405: ("badMethod", "Method Not Allowed"),
    406: ("notAcceptable", "Not Acceptable"),
    409: ("conflictingRequest", "Conflict"),
    413: ("overLimit", "Request Entity Too Large"),
    429: ("overLimit", "Too Many Requests"),
    500: ("computeFault", "Internal Server Error"),
    501: ("notImplemented", "Not Implemented"),
    502: ("computeFault", "Bad Gateway"),
    503: ("serviceUnavailable", "Service Unavailable"),
}

STYLES = ("nova", "keystone", "glance", "neutron")


def status_of(exc: errors.HexagoneError) -> int:
    """The HTTP status of a domain error: the native table, except quota (Nova: 403 forbidden) and
    the scheduler finding no host (Nova: 409 here; real Nova puts the server in ERROR instead)."""
    return status_for(exc)[0]


def body(style: str, status: int, message: str) -> dict[str, Any]:
    key, title = FAULTS.get(status, ("computeFault", "Error"))
    if style == "keystone":
        return {"error": {"code": status, "title": title, "message": message}}
    if style == "glance":
        return {"code": status, "title": title, "message": message}
    if style == "neutron":
        return {"NeutronError": {"type": f"HTTP{title.replace(' ', '')}", "message": message, "detail": ""}}
    return {key: {"code": status, "message": message}}


def response(style: str, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Keystone uri="/identity"')
    return JSONResponse(body(style, status, message), status_code=status, headers=extra or None)


def from_error(style: str, exc: errors.HexagoneError) -> JSONResponse:
    after = retry_after(exc)
    return response(style, status_of(exc), exc.message, {"Retry-After": after} if after else None)
