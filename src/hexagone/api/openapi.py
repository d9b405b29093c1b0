"""The published OpenAPI document of /v1, finished from what FastAPI generates.

* Problem answers (4xx, 5xx) are ``application/problem+json`` with the one ``Problem`` schema.
* Each create links to the operations on what it created (OpenAPI links), so clients and the
  fuzzer follow real ids: ``POST /v1/projects`` → ``GET|PATCH|DELETE /v1/projects/{project_id}``.
* Out of this document, with the reason: the OpenStack facade (``/identity``, ``/compute``,
  ``/image``, ``/networking``: OpenStack's own API reference describes it) and ``/v1/agent/*``
  (host agents only, authenticated by a host credential; the agent ships with the server).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hexagone.api.routing import PROBLEM_MEDIA_TYPE

EXCLUDED = {
    "/identity, /compute, /image, /networking": "the OpenStack facade: described by OpenStack's API reference "
    "(docs/openstack-compatibility.md)",
    "/v1/agent/*": "host agents only, authenticated by a host credential; the agent ships with the server",
}
PROBLEM_REF = "#/components/schemas/Problem"
_PARAM = re.compile(r"\{([^}]+)\}")
_METHODS = ("get", "put", "post", "patch", "delete")


def document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                           tags=app.openapi_tags)
        _problem_media_types(spec)
        _security(app, spec)
        _links(spec)
        app.openapi_schema = spec
    return app.openapi_schema


SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A token from POST /v1/auth/login (hxt_…) or an API key (hxk_…)."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "An API key (hxk_…)."},
}


def _security(app: FastAPI, spec: dict[str, Any]) -> None:
    """Authenticated operations say so (public ones, such as login and health, do not)."""
    from hexagone.api.routing import PUBLIC

    spec.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for route in documented_routes(app):
        if getattr(route.endpoint, "__hexagone_permission__", PUBLIC) != PUBLIC:
            for method in route.methods:
                spec["paths"][route.path][method.lower()]["security"] = [{"bearer": []}, {"apiKey": []}]


def documented_routes(app: FastAPI) -> list[Any]:
    """The API routes (with an endpoint and methods) that the document describes."""
    from hexagone.api.routing import flat_routes

    return [r for r in flat_routes(app.routes)
            if getattr(r, "include_in_schema", False) and getattr(r, "endpoint", None) and getattr(r, "methods", None)
            and hasattr(r, "response_model")]


def _problem_media_types(spec: dict[str, Any]) -> None:
    for ops in spec["paths"].values():
        for op in ops.values():
            for status, response in op.get("responses", {}).items():
                if status[0] in "45" and "content" in response:
                    schema = response["content"].pop("application/json", {}).get("schema")
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema or {"$ref": PROBLEM_REF}}}
    schemas = spec.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _response_fields(spec: dict[str, Any], response: dict[str, Any]) -> set[str]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    target = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    return set(target.get("properties", {}))


def _links(spec: dict[str, Any]) -> None:
    """From each create (POST answering 201/202 with a body) to every operation under the created
    resource's path, its new path parameter taken from the answer (``id``, or the field named
    like the parameter) and the others from the create's own path."""
    paths = spec["paths"]
    for path, ops in paths.items():
        create = ops.get("post")
        if not create:
            continue
        status = next((s for s in ("201", "202") if s in create["responses"]), None)
        if status is None:
            continue
        response = create["responses"][status]
        fields = _response_fields(spec, response)
        own = _PARAM.findall(path)
        links: dict[str, Any] = {}
        for other, other_ops in paths.items():
            if not other.startswith(path + "/{"):
                continue
            new = _PARAM.findall(other)[len(own)]
            source = new if new in fields else "id"
            if source not in fields:
                continue
            params = {p: f"$request.path.{p}" for p in own}
            params[new] = f"$response.body#/{source}"
            if any(p not in params for p in _PARAM.findall(other)):
                continue
            for method in _METHODS:
                if method in other_ops:
                    target = other_ops[method]["operationId"]
                    links[target] = {"operationId": target, "parameters": params}
        if links:
            response["links"] = links


def violations(app: FastAPI) -> list[str]:
    """What makes the document lie or fall short, one sentence per operation (empty: all is well).

    Every documented route must be registered with ``routing.endpoint`` (so it has a permission and
    its problem statuses), answer a typed model or a declared media type, and list each problem
    status ``error_statuses`` derives for it, as ``application/problem+json`` with the Problem schema.
    """
    from hexagone.api.routing import error_statuses

    spec = app.openapi()
    found: list[str] = []
    for route in documented_routes(app):
        for method in sorted(route.methods):
            where = f"{method} {route.path}"
            permission = getattr(route.endpoint, "__hexagone_permission__", None)
            if permission is None:
                found.append(f"{where}: register it with hexagone.api.routing.endpoint(..., permission=...)")
                continue
            op = spec["paths"][route.path][method.lower()]
            success = op["responses"].get(str(route.status_code), {})
            content = success.get("content", {})
            if route.status_code != 204 and route.response_model is None and not content:
                found.append(f"{where}: give it response_model= (or produces= for a body that is not JSON)")
            for media, body in content.items():
                schema = body.get("schema", {})
                if media == "application/json" and "$ref" not in schema:
                    found.append(f"{where}: its JSON answer has no named model (response_model=)")
            for status in error_statuses(method, route.path, route.endpoint, permission):
                declared = op["responses"].get(str(status), {}).get("content", {}).get(PROBLEM_MEDIA_TYPE, {})
                if declared.get("schema", {}).get("$ref") != PROBLEM_REF:
                    found.append(f"{where}: does not declare its {status} problem")
            for status, response in op["responses"].items():
                if status[0] in "45" and set(response.get("content", {})) != {PROBLEM_MEDIA_TYPE}:
                    found.append(f"{where}: its {status} is not application/problem+json")
    return found
