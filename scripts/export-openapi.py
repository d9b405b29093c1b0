#!/usr/bin/env python3
"""Regenerate docs/openapi.json, and the endpoint tables of docs/api.md from that same document
(meta-tests keep both equal to the code). Refuses to write a document that breaks the contract
(``hexagone.api.openapi.violations``: a route without a response model or its problem statuses).

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


def _answer(op: dict) -> str:
    """The success status and what it carries: a model name, or media types."""
    status = next(s for s in op["responses"] if s.startswith("2"))
    content = op["responses"][status].get("content", {})
    kinds = []
    for media, body in content.items():
        ref = body.get("schema", {}).get("$ref", "")
        kinds.append(f"`{ref.rsplit('/', 1)[1]}`" if ref and media == "application/json" else media)
    return f"{status} " + (", ".join(kinds) if kinds else "(no body)")


def endpoint_table() -> str:
    """Every operation of the document (answer, problem statuses) with its declared permission
    (``hexagone.api.routing.POLICIES``), then the routes left out of the document."""
    from hexagone.api.openapi import EXCLUDED
    from hexagone.api.routing import POLICIES

    spec = json.loads(document())
    rows = ["| method | path | operationId | permission | answer | problems |", "|---|---|---|---|---|---|"]
    documented = set()
    for path, ops in sorted(spec["paths"].items()):
        for method, op in sorted(ops.items()):
            documented.add((method.upper(), path))
            problems = " ".join(s for s in sorted(op["responses"]) if s[0] in "45")
            rows.append(f"| {method.upper()} | `{path}` | `{op['operationId']}` | `{POLICIES[(method.upper(), path)]}` "
                        f"| {_answer(op)} | {problems} |")
    rows += ["", "Outside the document: " + "; ".join(f"`{k}`: {v}" for k, v in EXCLUDED.items()) + ".", "",
             "| method | path | permission |", "|---|---|---|"]
    ordered = sorted(POLICIES.items(), key=lambda item: (item[0][1], item[0][0]))
    rows += [f"| {method} | `{path}` | `{permission}` |" for (method, path), permission in ordered
             if (method, path) not in documented]
    return "\n".join(rows) + "\n"


def api_doc() -> str:
    text = API_DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{endpoint_table()}{END}{tail}"


def main() -> int:
    from hexagone.api.openapi import violations

    problems = violations(create_app(Settings(), None, None, None))  # type: ignore[arg-type]
    if problems:
        print("the API breaks its contract (see docs/api.md, Adding a route):", *problems, sep="\n  ", file=sys.stderr)
        return 1
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
