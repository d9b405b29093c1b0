"""Integer inputs are bounded in the schema and by the server; out-of-range values and the rules the
schema states (months, cursors) answer a 4xx problem in the project's own words, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_hostile_input import problem

pytestmark = pytest.mark.integration

HUGE = "9223372036854775808"  # 2**63: one past SQLite's and PostgreSQL's BIGINT


@pytest.mark.parametrize("query", [
    f"/v1/flavors?min_vcpus={HUGE}", f"/v1/flavors?min_ram_mb={HUGE}", f"/v1/flavors?min_disk_gb={HUGE}",
    f"/v1/audit/events?cursor={HUGE}",
])
def test_huge_integers_in_queries_are_422(api: Any, query: str) -> None:
    op = api.admin()
    problem(op.get(query), 422, "validation")


def test_huge_invoice_offset_is_422(api: Any) -> None:
    op = api.admin()
    root = api.root_id(op)
    problem(op.get(f"/v1/billing/invoices?org_id={root}&offset={HUGE}"), 422, "validation")


def test_huge_integers_in_bodies_are_422(api: Any) -> None:
    op = api.admin()
    root = api.root_id(op)
    body = {"org_id": root, "name": "b", "amount": "10", "thresholds": [int(HUGE)]}
    problem(op.post("/v1/billing/budgets", body), 422, "validation")


@pytest.mark.parametrize("month", ["0000-00", "2026-13", "2026-00", "0000-01"])
def test_impossible_months_are_refused_in_our_words(api: Any, month: str) -> None:
    op = api.admin()
    root = api.root_id(op)
    body = problem(op.get(f"/v1/billing/usage?org_id={root}&month={month}"), 422, "validation")
    assert "out of range" not in body["detail"] and "year 0" not in body["detail"], body["detail"]
    body = problem(op.post(f"/v1/billing/periods/{month}/close"), 422, "validation")
    assert "year 0" not in body["detail"], body["detail"]


def test_empty_cursor_is_refused_and_documented(api: Any) -> None:
    op = api.admin()
    problem(op.get("/v1/projects?cursor="), 422, "validation")
    spec = op.get("/v1/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/v1/projects"]["get"]["parameters"]}
    assert params["cursor"]["schema"]["anyOf"][0]["minLength"] == 1


def test_every_integer_input_of_v1_is_bounded(api: Any) -> None:
    """Walk the published document: every integer (query, path, body) has a minimum and a maximum."""
    spec = api.client.get("/v1/openapi.json").json()
    unbounded: list[str] = []
    schemas = spec["components"]["schemas"]
    seen: set[str] = set()

    def walk(schema: Any, where: str) -> None:
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if ref and ref not in seen:  # follow request models into their nested models
                seen.add(ref)
                walk(schemas[ref.rsplit("/", 1)[1]], ref)
            if schema.get("type") == "integer" and ("maximum" not in schema or "minimum" not in schema):
                unbounded.append(where)
            for key, value in schema.items():
                walk(value, f"{where}.{key}")
        elif isinstance(schema, list):
            for i, value in enumerate(schema):
                walk(value, f"{where}[{i}]")

    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                walk(p["schema"], f"{method.upper()} {path} {p['name']}")
            walk(op.get("requestBody", {}), f"{method.upper()} {path} body")
    assert not unbounded, unbounded


def test_a_405_says_which_methods_are_allowed(api: Any) -> None:
    """RFC 9110: a 405 carries Allow (the problem handler used to drop Starlette's headers)."""
    op = api.admin()
    r = op.client.request("TRACE", "/v1/regions", headers=op.headers)
    problem(r, 405, "method-not-allowed")
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    r = op.client.request("TRACE", "/v1/hosts/join-tokens", headers=op.headers)  # also matches /{host_id}
    assert problem(r, 405) and r.headers["allow"] == "POST"


def test_an_empty_image_upload_is_refused_and_the_image_stays_queued(api: Any) -> None:
    op = api.admin()
    img = op.ok("POST", "/v1/images", {"name": "empty", "disk_format": "raw"})
    body = problem(op.put(f"/v1/images/{img['id']}/file", content=b"",
                          headers={"Content-Type": "application/octet-stream"}), 400, "invalid-input")
    assert "empty" in body["detail"]
    assert op.ok("GET", f"/v1/images/{img['id']}")["status"] == "queued"
