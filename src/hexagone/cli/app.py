"""Placeholder root; the command groups are added in cli/commands/."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Hexagone sovereign cloud CLI.")
