"""The published document of /v1 describes every route: a typed answer (or its declared media
types), every problem status it can return with the one RFC 9457 schema, bounded examples, unique
operation ids, links from creates. A route added without them fails here (see docs/api.md
"Adding a route")."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from hexagone.api.app import create_app
from hexagone.api.openapi import violations
from hexagone.api.routing import POLICIES, PUBLIC, endpoint, new_router
from hexagone.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(), None, None, None)  # type: ignore[arg-type]  # routes only


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def test_every_v1_route_keeps_the_contract(app: FastAPI) -> None:
    assert violations(app) == []


def test_a_route_without_a_response_model_is_caught() -> None:
    """What a merge of a new route without response_model= (or registered around endpoint) shows."""
    router = new_router("/v1/sloppy", "sloppy")

    @endpoint(router, "GET", "/things", permission="org.read")
    def things() -> dict[str, Any]:
        return {}

    def bare() -> dict[str, Any]:
        return {}

    router.add_api_route("/bare", bare, methods=["GET"])
    app = create_app(Settings(), None, None, None)  # type: ignore[arg-type]
    app.include_router(router)
    try:
        found = violations(app)
    finally:
        POLICIES.pop(("GET", "/v1/sloppy/things"))  # the registry is global: leave it as the app has it
    assert any(v.startswith("GET /v1/sloppy/things: ") and "response_model=" in v for v in found), found
    assert any(v.startswith("GET /v1/sloppy/bare: register it with") for v in found), found


def test_problems_are_one_rfc_9457_schema(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["properties"]["detail"]["type"] == "string"
    assert problem["properties"]["errors"]["anyOf"][0]["type"] == "array"
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance", "request_id"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_errors_are_declared_per_operation(spec: dict[str, Any]) -> None:
    op = spec["paths"]["/v1/projects/{project_id}"]["patch"]
    assert {"400", "401", "403", "404", "409", "413", "422", "429", "503"} <= set(op["responses"])
    login = spec["paths"]["/v1/auth/login"]["post"]
    assert {"401", "429"} <= set(login["responses"]) and "security" not in login
    assert op["security"] == [{"bearer": []}, {"apiKey": []}]


def test_media_types_are_what_is_sent(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    assert set(paths["/v1/audit/export"]["get"]["responses"]["200"]["content"]) == {"application/x-ndjson",
                                                                                    "text/csv"}
    assert set(paths["/v1/billing/reports/revenue"]["get"]["responses"]["200"]["content"]) == {"application/json",
                                                                                               "text/csv"}
    download = paths["/v1/images/{image_id}/file"]["get"]["responses"]["200"]["content"]
    assert download == {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    upload = paths["/v1/images/{image_id}/file"]["put"]["requestBody"]
    assert upload["required"] and set(upload["content"]) == {"application/octet-stream"}
    document = paths["/v1/billing/invoices/{invoice_id}/document"]["get"]["responses"]["200"]["content"]
    assert set(document) == {"application/pdf", "application/xml", "text/csv", "application/json"}


def test_creates_link_to_what_they_created(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    links = paths["/v1/projects"]["post"]["responses"]["201"]["links"]
    assert set(links) == {"get_project", "update_project", "delete_project"}
    assert links["get_project"]["parameters"] == {"project_id": "$response.body#/id"}
    keypair = paths["/v1/keypairs"]["post"]["responses"]["201"]["links"]
    assert keypair["get_keypair"]["parameters"] == {"name": "$response.body#/name"}
    member = paths["/v1/images/{image_id}/members"]["post"]["responses"]["201"]["links"]
    assert member["remove_image_member"]["parameters"] == {"image_id": "$request.path.image_id",
                                                           "org_id": "$response.body#/org_id"}
    for path, ops in paths.items():  # every create whose resource has a page of its own links to it
        create = ops.get("post", {}).get("responses", {})
        created = create.get("201") or create.get("202")
        has_item = any(p.startswith(path + "/{") and "get" in o for p, o in paths.items())
        if created and has_item and path.count("{") == 0 and path not in ("/v1/billing/budgets",):
            assert created.get("links"), path


def test_agent_and_openstack_routes_are_out_of_the_document(spec: dict[str, Any]) -> None:
    assert all(p.startswith("/v1/") and not p.startswith("/v1/agent/") for p in spec["paths"])


def test_operation_ids_are_unique_names(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert "create_project" in ids


def test_every_answer_model_carries_examples(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    answered = {
        body["schema"]["$ref"].rsplit("/", 1)[1]
        for ops in spec["paths"].values() for op in ops.values()
        for status, response in op["responses"].items() if status.startswith("2")
        for body in response.get("content", {}).values() if "$ref" in body.get("schema", {})
    }
    def has_examples(name: str, seen: set[str]) -> bool:
        schema = schemas[name]
        if "examples" in schema or any("examples" in p for p in schema.get("properties", {}).values()):
            return True
        refs = [r.rsplit("/", 1)[1] for r in _refs(schema)]
        return any(has_examples(r, seen | {name}) for r in refs if r not in seen)
    assert not [n for n in sorted(answered) if not has_examples(n, set())]
    assert PUBLIC == "public"


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        return ([schema["$ref"]] if "$ref" in schema else []) + [r for v in schema.values() for r in _refs(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []
