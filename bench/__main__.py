"""``python -m bench [--quick] [--no-doc] [SECTION ...]``: run benchmark sections (all by default)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

from bench import SECTIONS, Context
from bench.framework import machine_busy
from bench.report import write_block

ROOT = Path(__file__).resolve().parent.parent


def wait_for_quiet(limit: float, threshold: float = 0.2) -> None:
    """Other work on a small machine skews every figure: give it a chance to finish."""
    deadline = time.monotonic() + limit
    while True:
        busy = machine_busy(1.0)
        if busy <= threshold:
            return
        if time.monotonic() >= deadline:
            print(f"bench: the machine is still {busy:.0%} busy with other work; measuring anyway, "
                  "figures will be slower than on an idle machine.", flush=True)
            return
        print(f"bench: other processes keep {busy:.0%} of the CPU busy; waiting…", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of: {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="a short smoke run; docs are not written")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--quiet-wait", type=float, default=30, metavar="SECONDS",
                        help="wait up to this long for other processes to leave the CPU mostly idle "
                        "(default 30; 0: start at once)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    ctx = Context(root=ROOT, pg_server_url=os.environ.get("HEXAGONE_TEST_PG_URL") or None, quick=args.quick)
    if ctx.pg_server_url is None:
        print("bench: HEXAGONE_TEST_PG_URL is not set: PostgreSQL figures are skipped "
              "(`make bench` sets it).")
    doc = ROOT / "docs" / "benchmarks.md"
    wait_for_quiet(args.quiet_wait)
    for name in args.sections or list(SECTIONS):
        started = time.monotonic()
        print(f"\n== bench {name} ==", flush=True)
        result = importlib.import_module(SECTIONS[name]).run(ctx)
        print(result.console)
        if not (args.quick or args.no_doc):
            write_block(doc, name, result.markdown)
            print(f"(written to {doc.relative_to(ROOT)})")
        print(f"== {name}: {time.monotonic() - started:.0f} s ==", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
