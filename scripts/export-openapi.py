#!/usr/bin/env python3
"""Regenerate docs/openapi.json from the application's routes (a meta-test keeps the two equal).

Usage: .venv/bin/python scripts/export-openapi.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hexagone.api.app import create_app
from hexagone.settings import Settings

TARGET = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def document() -> str:
    app = create_app(Settings(), None, None, None)  # type: ignore[arg-type]  # routes only: nothing runs
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    text = document()
    if "--check" in sys.argv[1:]:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run scripts/export-openapi.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
