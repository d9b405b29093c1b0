"""The one CSV writer of every export (audit trail, invoices, billing reports, the CLI's files).

CSV files are opened in spreadsheets, which run a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some, one that starts with a tab or a carriage return) as a formula: a user-chosen name, a
request id or an audit detail could then exfiltrate the sheet or run a command (CSV injection,
OWASP). Every text cell whose first visible character could start a formula is prefixed with ``'``,
which spreadsheets show as text; plain numbers (``-12.50``) stay numbers. Pure: no I/O.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_START = frozenset("=+-@\t\r\n")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def cell(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell: text that could start a formula gets a ``'``."""
    if not isinstance(value, str) or not value:
        return value
    if _NUMBER.fullmatch(value):
        return value
    first = value.lstrip(" ")[:1]
    if value[0] in FORMULA_START or first in FORMULA_START:
        return "'" + value
    return value


def rows(header: Sequence[str], body: Iterable[Sequence[Any]]) -> str:
    """A CSV document: one header line, then one line per row, every cell through ``cell``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a bare CR or LF in a cell is quoted
    writer.writerow([cell(h) for h in header])
    for row in body:
        writer.writerow([cell(v) for v in row])
    return buf.getvalue()


def records(fields: Sequence[str], body: Iterable[Mapping[str, Any]]) -> str:
    """``rows`` over mappings: the columns are ``fields``, missing keys are empty, others ignored."""
    return rows(fields, ([r.get(f, "") for f in fields] for r in body))
