"""Options shared by many commands, and the one way lists are fetched and shown."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer

from hexagone.cli.client import ApiClient
from hexagone.cli.output import USAGE, CliError, OutputFormat, note, print_list
from hexagone.cli.session import output_format


class Role(StrEnum):
    """The roles a grant, a new user or an API key can carry."""

    owner = "owner"
    admin = "admin"
    member = "member"
    reader = "reader"
    billing = "billing"


Output = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="table (default) or json (the API's raw JSON).", show_default=False),
]
Limit = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Items per page.")]
Cursor = Annotated[str | None, typer.Option("--cursor", help="Continue from a previous page's next_cursor.")]
All = Annotated[bool, typer.Option("--all", help="Follow next_cursor until the last page.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def show_list(
    api: ApiClient,
    path: str,
    params: Mapping[str, Any],
    columns: Sequence[str],
    *,
    limit: int,
    cursor: str | None,
    follow: bool,
    output: OutputFormat | None,
    empty: str = "Nothing to show.",
    row: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Fetch one page (or all with ``--all``), print it, hint at the next page; returns the items.
    ``row`` reshapes each item for the table; JSON output is always the API's."""
    fmt = output_format(output)
    items: list[dict[str, Any]] = []
    next_cursor: str | None = None
    for body in api.pages(path, params, limit, cursor, follow):
        items.extend(body.get("items") or [])
        next_cursor = body.get("next_cursor")
    rows = [row(i) for i in items] if row and fmt != "json" else items
    print_list(rows, columns, fmt, raw={"items": items, "next_cursor": next_cursor}, empty=empty)
    if next_cursor and fmt != "json":
        note(f"More results: add --all, or --cursor {next_cursor} for the next page.")
    return items


def read_secret_line(what: str) -> str:
    """One line of standard input (``--password-stdin``), without its newline."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CliError(
            f"No {what} on standard input: pipe it in, e.g. `printf '%s\\n' \"$PW\" | hexagone ...`.", USAGE
        )
    return line


def prompt_secret(what: str, *, confirm: bool = False, env: str | None = None) -> str:
    """A hidden prompt on the terminal. Without one (a script, CI, a pipe), say how to pass the
    secret instead: getpass would warn ``GetPassWarning``, echo nothing useful and end ``Aborted!``."""
    if not sys.stdin.isatty():
        instead = "--password-stdin" + (f" or {env}" if env else "")
        raise CliError(
            f"No terminal to ask for the {what.lower()}: pass it with {instead}, e.g. "
            "`printf '%s\\n' \"$PW\" | hexagone ... --password-stdin`.",
            USAGE,
        )
    value: str = typer.prompt(what, hide_input=True, confirmation_prompt=confirm)
    return value


def new_password(stdin: bool, what: str = "New password") -> str:
    """A new password from stdin, or a hidden prompt with confirmation."""
    if stdin:
        return read_secret_line(what.lower())
    return prompt_secret(what, confirm=True)


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options the user actually gave (PATCH sends only those)."""
    return {k: v for k, v in values.items() if v is not None}
