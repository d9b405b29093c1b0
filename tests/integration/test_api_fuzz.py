"""Schemathesis against a real region (SQLite and PostgreSQL), from the served document, as an
operator administrator and as a customer member: every check on (server errors, status codes,
content types, headers, response schemas, valid data accepted, invalid data rejected, auth),
examples, coverage, fuzzing and stateful phases (following the document's links), a bounded
number of examples per operation.

Left out of the fuzzed operations: ``POST /v1/auth/logout`` (it would end the session under test;
tests/integration/test_identity_api.py and test_generated_client.py cover it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from hexagone.bootstrap import Runtime, ensure_catalogue
from tests.helpers import Api
from tests.integration.compute_helpers import fake_host
from tests.live import live_server

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).parent / "fuzz" / "schemathesis.toml"
#: Examples per operation and phase: enough to find the contract's lies, within ~1 min a run here.
MAX_EXAMPLES = int(os.environ.get("HEXAGONE_FUZZ_EXAMPLES", "3"))
EXCLUDED = ["logout"]


def _principal(api: Api, rt: Runtime, role: str) -> str:
    op = api.admin()
    if role == "operator-admin":
        return op.token
    ensure_catalogue(rt, None)
    fake_host(rt, "fuzz-host")
    org = api.org(op, api.root_id(op), "customer", "Fuzzed customer")
    api.project(op, org["id"], "fuzzed")
    _, member = api.user(op, org["id"], ["member"])
    return member.token


def run_schemathesis(url: str, token: str, report: Path, max_examples: int = MAX_EXAMPLES) -> tuple[int, str]:
    st = Path(sys.executable).with_name("st")
    cmd = [
        str(st), "--config-file", str(CONFIG), "run", f"{url}/v1/openapi.json",
        "--checks", "all", "--max-examples", str(max_examples), "--seed", "22",
        "--phases", "examples,coverage,fuzzing,stateful", "--workers", "1",
        "-H", f"Authorization: Bearer {token}",
        "--suppress-health-check", "all", "--no-color", "--max-failures", "20",
        "--report", "junit", "--report-dir", str(report),
        *[arg for name in EXCLUDED for arg in ("--exclude-operation-id", name)],
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=report.parent,  # its cache too
                          env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("role", ["operator-admin", "customer-member"])
def test_v1_keeps_its_published_contract(api: Any, rt: Runtime, tmp_path: Path, role: str) -> None:
    token = _principal(api, rt, role)
    with live_server(rt) as url:
        httpx.get(f"{url}/v1/openapi.json", timeout=120).raise_for_status()  # built once, then cached
        code, output = run_schemathesis(url, token, tmp_path / "report")
    assert code == 0, output[-20000:]
