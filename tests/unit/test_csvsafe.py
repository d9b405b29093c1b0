"""The one CSV writer: no cell of any export can start a spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pytest

from hexagone import csvsafe
from hexagone.audit.service import to_csv
from hexagone.billing.csvjson import to_csv as billing_csv

pytestmark = pytest.mark.unit

HOSTILE = [
    "=HYPERLINK(\"http://evil\",\"x\")",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "  =1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_are_neutralised(value: str) -> None:
    assert csvsafe.cell(value) == "'" + value
    parsed = list(csv.reader(io.StringIO(csvsafe.rows(["h"], [[value]]), newline="")))
    assert parsed == [["h"], ["'" + value]]


@pytest.mark.parametrize("value", ["-12.50", "+3", "42", "0.10", "plain text", "", "2026-03-01", None, 7])
def test_numbers_and_plain_text_are_unchanged(value: object) -> None:
    assert csvsafe.cell(value) == value


def test_every_export_goes_through_the_safe_writer() -> None:
    audit = to_csv([{"seq": 1, "request_id": "=1+1", "actor_name": "@x", "details": {}}])
    assert "'=1+1" in audit and "'@x" in audit
    billing = billing_csv([["-cmd", "-1.00"]], ["=h", "b"])
    assert billing.splitlines() == ["'=h,b", "'-cmd,-1.00"]
