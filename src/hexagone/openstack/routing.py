"""The facade's route classes: the native transaction per request, OpenStack error shapes, and
Nova's microversion negotiation.

Routes are still registered with ``hexagone.api.routing.endpoint`` (so each declares its policy);
only the router's ``route_class`` differs. Domain errors raised by a handler (or by the ``UC``
dependency, for a bad token) are rendered in the service's own error shape *after* the request's
transaction was rolled back, so the native API's problem+json is untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hexagone.api.routing import TransactionalRoute
from hexagone.errors import HexagoneError
from hexagone.openstack import errors

#: Option A of the design note: this facade implements exactly compute API 2.1.
MIN_VERSION = MAX_VERSION = (2, 1)
VERSION_HEADERS = {
    "OpenStack-API-Version": "compute 2.1",
    "X-OpenStack-Nova-API-Version": "2.1",
    "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
}
_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


def requested_version(request: Request) -> str | None:
    """The compute microversion the request asks for (None: the minimum, 2.1)."""
    header = request.headers.get("openstack-api-version")
    if header:
        for part in header.split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() == "compute" and value.strip():
                return value.strip()
    legacy = request.headers.get("x-openstack-nova-api-version")
    return legacy.strip() if legacy else None


def check_version(value: str | None) -> tuple[int, str] | None:
    """None when the version is served; else (status, message) for 400 (malformed) or 406."""
    if value is None or value.lower() == "latest":
        return None
    match = _VERSION.match(value)
    if match is None:
        return 400, f"Version string '{value[:20]}' is not valid: use a major.minor number such as 2.1."
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        return 406, (
            f"Version {value} is not supported by the API. Minimum is 2.1 and maximum is 2.1: "
            "this cloud implements compute API 2.1 exactly."
        )
    return None


#: The longest string any facade field takes (Nova's user_data: 65,535 base64 characters).
MAX_STRING = 65536
#: C0 controls except tab, LF and CR, and DEL: never part of a name, an id or a password, and
#: PostgreSQL refuses NUL in text outright.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def hostile_json(doc: Any) -> str | None:
    """Why a client's JSON document is refused (a control character or an over-long string, in a
    key or a value, at any depth), or None. The facade takes bodies as plain dicts, so this one
    walk stands where the native API's models check each field."""
    stack: list[tuple[str, Any]] = [("body", doc)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((f"{where}.{key}"[:200], key))
                stack.append((f"{where}.{key}"[:200], item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]"[:200], item) for i, item in enumerate(value))
        elif isinstance(value, str):
            bad = _CONTROL.search(value)
            if bad is not None:
                return (f"Invalid input for field/attribute {where}: it contains the control character "
                        f"U+{ord(bad.group()):04X}; remove it.")
            if len(value) > MAX_STRING:
                return f"Invalid input for field/attribute {where}: over {MAX_STRING} characters."
    return None


async def _refusal(request: Request) -> str | None:
    if "json" not in request.headers.get("content-type", ""):
        return None
    raw = await request.body()  # cached on the request: the handler reads the same bytes
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None  # the handler answers malformed JSON with its own 400
    return hostile_json(doc)


class _OpenStackRoute(TransactionalRoute):
    style = "nova"

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()
        style = self.style

        async def handler(request: Request) -> Response:
            if style == "nova":
                refused = check_version(requested_version(request))
                if refused is not None:
                    return errors.response(style, refused[0], refused[1], VERSION_HEADERS)
            try:
                refusal = await _refusal(request)
                response = errors.response(style, 400, refusal) if refusal else await inner(request)
            except HexagoneError as exc:
                response = errors.from_error(style, exc)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
                response = errors.response(
                    style,
                    400,
                    f"Invalid input for field/attribute {where or 'body'}: "
                    f"{first.get('msg', 'malformed request')}.",
                )
            except StarletteHTTPException as exc:
                response = errors.response(style, exc.status_code, str(exc.detail))
            request_id = getattr(request.state, "request_id", "")
            response.headers["X-OpenStack-Request-Id"] = request_id
            if style == "nova":
                response.headers.update(VERSION_HEADERS)
                response.headers["X-Compute-Request-Id"] = request_id
            return response

        return handler


class NovaRoute(_OpenStackRoute):
    style = "nova"


class KeystoneRoute(_OpenStackRoute):
    style = "keystone"


class GlanceRoute(_OpenStackRoute):
    style = "glance"


class NeutronRoute(_OpenStackRoute):
    style = "neutron"


def new_router(prefix: str, tag: str, route_class: type[TransactionalRoute]) -> APIRouter:
    return APIRouter(prefix=prefix, tags=[tag], route_class=route_class, include_in_schema=False)
