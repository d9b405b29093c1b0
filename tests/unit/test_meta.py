"""Meta-tests that keep documentation and tables honest."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from hexagone import errors
from hexagone.api.problems import STATUS
from hexagone.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented():
    doc = (ROOT / "docs" / "settings.md").read_text()
    missing = [
        name
        for name in Settings.model_fields
        if f"`{name}`" not in doc or f"`HEXAGONE_{name.upper()}`" not in doc
    ]
    assert not missing, f"docs/settings.md does not document: {missing}"


def test_every_setting_has_a_description():
    assert not [n for n, f in Settings.model_fields.items() if not f.description]


def test_every_error_class_is_mapped_to_http():
    classes = [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.HexagoneError) and c.__module__ == errors.__name__
    ]
    unmapped = [c.__name__ for c in classes if c not in STATUS]
    assert not unmapped, f"add these to hexagone.api.problems.STATUS: {unmapped}"
    assert len({c.code for c in classes}) == len(classes), "error codes must be unique"
    assert all(400 <= status < 600 for status, _ in STATUS.values())


def test_openapi_document_is_current():
    spec = importlib.util.spec_from_file_location("export_openapi", ROOT / "scripts" / "export-openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "openapi.json").read_text()
    assert current == module.document(), (
        "docs/openapi.json is stale: run `.venv/bin/python scripts/export-openapi.py` and commit it"
    )


def test_api_doc_lists_every_endpoint():
    spec = importlib.util.spec_from_file_location("export_openapi", ROOT / "scripts" / "export-openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "api.md").read_text() == module.api_doc(), (
        "docs/api.md's endpoint table is stale: run `.venv/bin/python scripts/export-openapi.py` and commit it"
    )
