"""Billing warnings name regions by name (the API answers with ids), against a mocked API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hexagone.cli.app import app
from hexagone.cli.client import ApiClient
from hexagone.cli.commands import billing

pytestmark = pytest.mark.unit

REGION_ID = "01900000-0000-7000-8000-0000000000aa"
ORG_ID = "01900000-0000-7000-8000-0000000000bb"

ANSWERS: dict[str, Any] = {
    "/v1/regions": {"items": [{"id": REGION_ID, "name": "fr-par"}], "next_cursor": None},
    "/v1/organisations": {"items": [{"id": ORG_ID, "name": "Acme"}], "next_cursor": None},
    "/v1/auth/whoami": {"organisation": {"id": ORG_ID}},
    "/v1/billing/usage": {
        "lines": [], "period": "2026-11", "until": "2026-11-30", "total_net": "0.00", "currency": "EUR",
        "unpriced": [{"region_id": REGION_ID, "product": "instance.tiny"}],
    },
    "/v1/billing/periods/2026-11/close": {
        "period": "2026-11", "issued": 0, "skipped": 0,
        "unpriced": [{"region_id": REGION_ID, "product": "instance.tiny"}],
    },
}


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=ANSWERS[request.url.path])

    api = ApiClient("http://api.test", "t", transport=httpx.MockTransport(handler))
    monkeypatch.setattr(billing, "client", lambda: api)


@pytest.mark.parametrize("args", [["billing", "usage"], ["billing", "close", "--month", "2026-11"]])
def test_unpriced_usage_warnings_name_the_region(mocked: None, args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "region fr-par" in result.output and REGION_ID not in result.output
