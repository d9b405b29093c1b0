"""What the CLI prints, and the one table from API problems to exit codes.

Success goes to stdout: a Rich table (lists), a two-column record (one resource) or, with
``--output json``, the API's JSON unchanged. Failures go to stderr as one sentence saying what to do
next, with the request id to quote to support, and end the process with a code from ``EXIT_CODES``:

    0 ok · 1 generic · 2 usage · 3 not authenticated · 4 forbidden · 5 not found · 6 conflict
    7 invalid input · 8 server error · 9 cannot connect · 10 rate limited · 11 audit trail broken
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

OutputFormat = Literal["table", "json"]

OK = 0
GENERIC = 1
USAGE = 2
AUTH = 3
FORBIDDEN = 4
NOT_FOUND = 5
CONFLICT = 6
INVALID = 7
SERVER = 8
CONNECTION = 9
RATE_LIMITED = 10
INTEGRITY = 11

#: The one table. Keys are problem codes (the last segment of the problem's ``type`` URI), which
#: win, then HTTP statuses, then status classes ("4xx", "5xx").
EXIT_CODES: dict[str | int, int] = {
    "mfa-required": AUTH,
    "unauthenticated": AUTH,
    "quota-exceeded": FORBIDDEN,
    "no-valid-host": CONFLICT,
    "validation": INVALID,
    "malformed-json": INVALID,
    "payload-too-large": INVALID,
    "rate-limited": RATE_LIMITED,
    400: INVALID,
    401: AUTH,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: USAGE,
    409: CONFLICT,
    413: INVALID,
    422: INVALID,
    429: RATE_LIMITED,
    "4xx": GENERIC,
    "5xx": SERVER,
}

#: What to do next, per exit code, when the API's own detail does not say it. A 403's detail always
#: says it (a missing role, an operator command, a second factor to enrol), so it has no line here.
NEXT_STEP: dict[int, str] = {
    AUTH: "Log in again: run `hexagone login`.",
    NOT_FOUND: "Check the name or id with the matching `list` command.",
    SERVER: "The server failed; retry later and quote the request id to the operator.",
    RATE_LIMITED: "Wait a little and retry.",
}


#: Problem codes whose detail is more precise than the exit code's generic next step (a flavor
#: without a price exists: listing it again would not help).
OWN_NEXT_STEP = frozenset({"not-priced", "mfa-required", "quota-exceeded", "no-valid-host"})


def problem_code(problem: Mapping[str, Any]) -> str:
    """``https://hexagone.dev/problems/mfa-required`` -> ``mfa-required``."""
    return str(problem.get("type") or "").rstrip("/").rsplit("/", 1)[-1]


def exit_code_for(status: int, problem: Mapping[str, Any] | None = None) -> int:
    code = problem_code(problem or {})
    if code in EXIT_CODES:
        return EXIT_CODES[code]
    if status in EXIT_CODES:
        return EXIT_CODES[status]
    return EXIT_CODES.get(f"{status // 100}xx", GENERIC)


class CliError(Exception):
    """A failure the CLI reports in one sentence and an exit code, without a traceback."""

    def __init__(
        self,
        message: str,
        exit_code: int = GENERIC,
        *,
        request_id: str = "",
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.request_id = request_id
        self.problem = dict(problem) if problem is not None else None


def error_lines(err: CliError) -> list[str]:
    """The lines written to stderr for a failure: the sentence, field errors, the request id."""
    lines = [f"Error: {err.message}"]
    for field in (err.problem or {}).get("errors") or []:
        if isinstance(field, Mapping):
            line = f"{field.get('field') or 'body'}: {field.get('message', '')}"
            if line not in err.message:
                lines.append("  " + line)
    hint = NEXT_STEP.get(err.exit_code)
    if problem_code(err.problem or {}) in OWN_NEXT_STEP:
        hint = None
    if err.problem is not None and hint and hint not in err.message:
        lines.append(hint)
    if err.request_id:
        lines.append(f"(request id {err.request_id})")
    return lines


# --- formatting --------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """One value as table text: empty for None, yes/no for booleans, compact JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping | list | tuple):
        if not value:
            return ""
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return ", ".join(value)
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def plain(value: Any) -> Text:
    """Data as Rich text taken literally: ``:ab:`` stays ``:ab:`` (no emoji), ``[bold]`` stays
    ``[bold]`` (no markup). Rich interprets plain ``str`` cells, so every cell goes through here."""
    return Text(cell(value))


def list_table(items: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> Table:
    table = Table(title=plain(title) if title else None, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(plain(col.upper()), overflow="fold", no_wrap=col in ("id", "seq"))
    for item in items:
        table.add_row(*(plain(item.get(col)) for col in columns))
    return table


def record_table(item: Mapping[str, Any], fields: Sequence[str] | None = None) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in fields or list(item):
        table.add_row(plain(key), plain(item.get(key)))
    return table


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def make_console(stderr: bool = False) -> Console:
    """Piped output gets a wide console so ids never wrap; a terminal keeps its own width. What it
    prints is data: no markup, no emoji codes, no highlighting (a fingerprint ``5a:ab:67`` once
    printed an emoji)."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(
        file=stream, width=200 if wide else None, soft_wrap=False, highlight=False, markup=False, emoji=False
    )


def print_list(
    items: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: OutputFormat,
    raw: Any = None,
    empty: str = "Nothing to show.",
) -> None:
    if fmt == "json":
        print(to_json(raw if raw is not None else list(items)))
        return
    if not items:
        make_console(stderr=True).print(empty)
        return
    make_console().print(list_table(items, columns))


def print_record(item: Mapping[str, Any], fmt: OutputFormat, fields: Sequence[str] | None = None) -> None:
    if fmt == "json":
        print(to_json(item))
        return
    make_console().print(record_table(item, fields))


def note(message: str) -> None:
    """A human remark (stderr, so stdout stays parseable)."""
    print(message, file=sys.stderr)


def say(message: str, fmt: OutputFormat) -> None:
    """A success sentence: stdout for people, nothing in JSON mode."""
    if fmt != "json":
        print(message)
