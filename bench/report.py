"""The reporting half of ``make bench``: result tables (console and Markdown), aims with a verdict,
and ``docs/benchmarks.md``, where each section owns the block between its two markers.

A section's block is replaced on every run of that section and nothing else in the file is touched,
so sections added later (compute, billing, ...) keep their own figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.framework import Machine

DOC_HEADER = """# Benchmarks

Figures measured by `make bench` on the machine described in each section; re-run it to refresh
them. Each section is generated between its `<!-- bench:NAME -->` markers: edit the benchmark,
not the text between the markers.
"""


@dataclass
class Table:
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells, the table {len(self.columns)} columns")
        self.rows.append(cells)

    def text(self) -> str:
        widths = [max(len(str(c)) for c in col) for col in zip(self.columns, *self.rows, strict=False)]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in [self.columns, *self.rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def markdown(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

        return "\n".join([line(self.columns), line(["---"] * len(self.columns)), *map(line, self.rows)])


@dataclass(frozen=True)
class Aim:
    """A target from the issue and whether this run met it."""

    what: str
    target: str
    measured: str
    met: bool

    @property
    def verdict(self) -> str:
        return "met" if self.met else "MISSED"


def aims_table(aims: Sequence[Aim]) -> Table:
    table = Table(["aim", "target", "measured", "verdict"])
    for a in aims:
        table.add(a.what, a.target, a.measured, a.verdict)
    return table


def machine_markdown(machine: Machine) -> str:
    return "\n".join(f"- **{k}:** {v}" for k, v in machine.lines())


def markers(name: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ValueError(f"section name {name!r} must be lower-case letters, digits, '-' or '_'")
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_block(document: str, name: str, body: str) -> str:
    """``document`` with the block of section ``name`` set to ``body``: replaced in place when the
    markers exist, appended at the end otherwise. Other blocks and free text are kept as they are."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(document):
        return pattern.sub(lambda _m: block, document, count=1)
    if not document.strip():
        document = DOC_HEADER
    return document.rstrip("\n") + "\n\n" + block + "\n"


def write_block(path: Path, name: str, body: str) -> None:
    existing = path.read_text() if path.exists() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_block(existing, name, body))
