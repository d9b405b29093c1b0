"""``make bench``: performance figures of Hexagone measured on the machine at hand.

A benchmark *section* is a module with a ``run(ctx: Context) -> Result`` function, registered in
``SECTIONS`` below. ``python -m bench`` runs every section, ``python -m bench identity`` only the
named ones; each prints its tables and rewrites its own block of ``docs/benchmarks.md``.
To add a section (compute, billing, ...): write ``bench/<name>.py`` and add one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: section name -> module defining ``run(ctx) -> Result``; run in this order.
SECTIONS: dict[str, str] = {
    "identity": "bench.identity",
    "billing": "bench.billing",
    "compute": "bench.compute",
    "admission": "bench.admission",
}


@dataclass(frozen=True)
class Context:
    """What every section gets: where the repository is, the PostgreSQL server to create
    databases on (None: SQLite only) and whether to run a short smoke version."""

    root: Path
    pg_server_url: str | None
    quick: bool = False


@dataclass(frozen=True)
class Result:
    """A section's output: ``console`` is printed, ``markdown`` goes between its markers."""

    console: str
    markdown: str
