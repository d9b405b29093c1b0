"""The string rules a request body's schema publishes are exactly the ones the server enforces:
for any string, "the published pattern matches" ⇔ "the server accepts the field" (control
characters refused, surrounding whitespace trimmed, then the length bounds or the field's pattern)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hexagone.api.routes.billing import PriceIn
from hexagone.api.routes.catalogue import FlavorIn, KeypairIn
from hexagone.api.schemas import OrgIn, ProjectIn, RegionIn, Strict

pytestmark = pytest.mark.unit

# model, field, the other fields of a valid body
CASES: list[tuple[type[Strict], str, dict[str, Any]]] = [
    (ProjectIn, "name", {"org_id": "x"}),
    (ProjectIn, "description", {"org_id": "x", "name": "p"}),
    (RegionIn, "name", {"country": "FR", "legal_entity": "e"}),
    (RegionIn, "country", {"name": "r", "legal_entity": "e"}),
    (OrgIn, "siren", {"parent_id": "x", "kind": "customer", "name": "o"}),
    (FlavorIn, "name", {"vcpus": 1, "ram_mb": 64, "disk_gb": 1}),
    (KeypairIn, "name", {}),
    (PriceIn, "price", {"region": "r", "product": "p"}),
]
ALPHABET = st.sampled_from([*"aZ09-._@ ", "\t", "\n", "\x00", "\x1f", "\x0b", "\x85", "\u3000", "é", "١"])
TEXT = st.one_of(st.text(ALPHABET, max_size=12), st.text(max_size=8),
                 st.builds(lambda n, pad: pad + "a" * n + pad, st.integers(0, 300), st.sampled_from(["", " ", "\t "])))


def _pattern(model: type[Strict], field: str) -> re.Pattern[str]:
    prop = model.model_json_schema()["properties"][field]
    schema = next((s for s in prop.get("anyOf", [prop]) if s.get("type") == "string"), prop)
    assert "maxLength" not in schema and "minLength" not in schema, "lengths are stated in the pattern"
    return re.compile(schema["pattern"])


@pytest.mark.parametrize(("model", "field", "others"), CASES, ids=[f"{m.__name__}.{f}" for m, f, _ in CASES])
@settings(max_examples=300, deadline=None)
@given(value=TEXT)
def test_published_pattern_is_the_server_rule(model: type[Strict], field: str, others: dict[str, Any],
                                              value: str) -> None:
    try:
        model(**{**others, field: value})
        accepted = True
    except ValidationError as exc:
        assert all(e["loc"][0] == field for e in exc.errors()), exc
        accepted = False
    assert bool(_pattern(model, field).search(value)) == accepted, repr(value)


@pytest.mark.parametrize(("field", "value", "ok"), [
    ("vcpus", 2, True), ("vcpus", 2.0, True), ("vcpus", 2.5, False), ("vcpus", "2", False), ("vcpus", True, False),
    ("is_public", True, True), ("is_public", 1, False), ("is_public", "true", False),
])
def test_json_types_are_taken_as_the_schema_states_them(field: str, value: Any, ok: bool) -> None:
    """No coercion from strings or between booleans and numbers (pydantic's lax mode would)."""
    body = {"name": "f", "vcpus": 1, "ram_mb": 64, "disk_gb": 1, field: value}
    if ok:
        FlavorIn(**body)
    else:
        with pytest.raises(ValidationError):
            FlavorIn(**body)


@pytest.mark.parametrize(("value", "ok"), [
    ("2026-01-01T00:00:00Z", True), ("2026-01-01T00:00:00.5+02:00", True), ("2026-01-01", False),
    ("2026-01-01T00:00:00", False), ("1767225600", False), ("2026-02-30T00:00:00Z", False),
])
def test_date_times_are_rfc_3339_with_their_offset(value: str, ok: bool) -> None:
    if ok:
        PriceIn(region="r", product="p", price="1", effective_from=value)
    else:
        with pytest.raises(ValidationError):
            PriceIn(region="r", product="p", price="1", effective_from=value)
