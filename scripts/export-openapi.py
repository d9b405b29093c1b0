#!/usr/bin/env python3
"""Regenerate docs/openapi.json and the endpoint table of docs/api.md from the application's routes
(meta-tests keep both equal to the code).

Usage: .venv/bin/python scripts/export-openapi.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hexagone.api.app import create_app
from hexagone.settings import Settings

TARGET = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
API_DOC = TARGET.parent / "api.md"
BEGIN, END = "<!-- endpoints -->", "<!-- /endpoints -->"


def document() -> str:
    app = create_app(Settings(), None, None, None)  # type: ignore[arg-type]  # routes only: nothing runs
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def endpoint_table() -> str:
    """Every route with its declared permission (``hexagone.api.routing.POLICIES``)."""
    from hexagone.api.routing import POLICIES

    create_app(Settings(), None, None, None)  # type: ignore[arg-type]  # registers every route
    rows = ["| method | path | permission |", "|---|---|---|"]
    ordered = sorted(POLICIES.items(), key=lambda item: (item[0][1], item[0][0]))
    rows += [f"| {method} | `{path}` | `{permission}` |" for (method, path), permission in ordered]
    return "\n".join(rows) + "\n"


def api_doc() -> str:
    text = API_DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{endpoint_table()}{END}{tail}"


def main() -> int:
    text, doc = document(), api_doc()
    if "--check" in sys.argv[1:]:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text or API_DOC.read_text() != doc:
            print("docs/openapi.json or docs/api.md is stale: run scripts/export-openapi.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    API_DOC.write_text(doc)
    print(f"wrote {TARGET} and {API_DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
