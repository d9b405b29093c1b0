"""docs/cli.md stays honest: every CLI command is documented with an example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from hexagone.cli.app import app

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
SERVER_COMMANDS = {"up", "init", "agent"}  # added by hexagone.main, documented in the README


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield " ".join(prefix)
        return
    for name, sub in subcommands.items():
        if not prefix and name in SERVER_COMMANDS:
            continue
        yield from command_paths(sub, (*prefix, name))


def test_every_command_has_an_example_in_the_docs() -> None:
    text = DOC.read_text()
    paths = sorted(command_paths(typer.main.get_command(app)))
    assert len(paths) > 30
    missing = [p for p in paths if f"hexagone {p}" not in text and f"hexagone -o json {p}" not in text]
    assert not missing, f"commands without an example in docs/cli.md: {missing}"
