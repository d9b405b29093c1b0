"""Issue 2, done-when: the reseller channel, tenant isolation, the audit trail and TOTP, driven
through the real ``hexagone`` CLI (subprocesses) against a real ``hexagone up`` server."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hexagone.identity import totp
from tests.e2e.cli_helpers import ENTRY_POINT, Cli, Server, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

OPERATOR_PW = "operator-secret-2026"
PW = "a-long-enough-passphrase"
NOT_FOUND, AUTH, INTEGRITY = 5, 3, 11


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("hexagone-e2e"), OPERATOR_PW)
    try:
        yield srv
    finally:
        stop_server(srv.process)


@pytest.fixture(scope="module")
def cli(server: Server) -> Iterator[Cli]:
    c = Cli(server.data_dir.parent / "cli-config")
    c.login(server.url, "admin", OPERATOR_PW, "op", entry=ENTRY_POINT)
    yield c
    tokens = [json.loads(p.read_text())["token"] for p in (c.config_dir / "tokens").glob("*.json")]
    assert tokens
    for out in c.outputs:
        assert not any(t in out for t in tokens), "a token was printed"
        assert PW not in out and OPERATOR_PW not in out, "a password was printed"


def new_user(cli: Cli, profile: str, org: str, name: str, role: str = "admin") -> dict[str, Any]:
    return dict(
        cli.json(
            "user",
            "create",
            "--org",
            org,
            "--name",
            name,
            "--role",
            role,
            "--password-stdin",
            profile=profile,
            stdin=PW + "\n",
        )
    )


def audit_events(cli: Cli, profile: str) -> list[dict[str, Any]]:
    return list(cli.json("audit", "list", "--all", "--limit", "1000", profile=profile)["items"])


def test_reseller_customers_are_isolated_and_audited(cli: Cli, server: Server) -> None:
    # The operator onboards reseller R (with an administrator) and a competing reseller R2 with a customer.
    legal = ("--country", "FR", "--siren", "732829320", "--vat-id", "FR44732829320", "--address", "1 rue de la Paix")
    r = cli.json("org", "create", "--name", "R", "--kind", "reseller", *legal, profile="op")
    new_user(cli, "op", "R", "r-admin")
    r2 = cli.json("org", "create", "--name", "R2", "--kind", "reseller", *legal, profile="op")
    x2 = cli.json("org", "create", "--name", "X2", "--kind", "customer", "--parent", "R2", profile="op")
    assert x2["parent_id"] == r2["id"]

    # R's administrator logs in on its own profile (password from the environment) and builds its customers.
    cli.run("login", server.url, "--username", "r-admin", profile="r", env={"HEXAGONE_PASSWORD": PW})
    c1 = cli.json("org", "create", "--name", "C1", "--siren", "732829320", profile="r")
    c2 = cli.json("org", "create", "--name", "C2", profile="r")
    assert c1["parent_id"] == c2["parent_id"] == r["id"] and c1["kind"] == "customer"
    new_user(cli, "r", "C1", "c1-admin")
    web = cli.json("project", "create", "--org", "C1", "--name", "web", profile="r")
    db = cli.json("project", "create", "--org", "C2", "--name", "db", profile="r")

    # R sees its subtree, never R2's customers.
    assert {o["name"] for o in cli.json("org", "list", profile="r")["items"]} == {"R", "C1", "C2"}
    cli.run("org", "show", x2["id"], profile="r", expect=NOT_FOUND)

    # C1's administrator sees and touches only C1: C2's organisation and projects answer "not found".
    cli.login(server.url, "c1-admin", PW, "c1")
    table = cli.run("org", "list", profile="c1").stdout
    assert "C1" in table and "C2" not in table and c1["id"] in table
    assert [p["name"] for p in cli.json("project", "list", "--all", profile="c1")["items"]] == ["web"]
    for args in (
        ("org", "show", "C2"),
        ("org", "update", c2["id"], "--address", "x"),
        ("project", "show", db["id"]),
        ("project", "update", db["id"], "--description", "pwned"),
        ("project", "create", "--org", c2["id"], "--name", "evil"),
    ):
        failed = cli.run(*args, profile="c1", expect=NOT_FOUND)
        assert (
            "does not exist, or you cannot see it" in failed.stderr
            or "No organisation named" in failed.stderr
        )
    cli.json("project", "update", "web", "--description", "front end", profile="c1")

    # The operator's trail holds every step, with who did it; the table shows the actions too.
    events = audit_events(cli, "op")
    done = {(e["actor_name"], e["action"], e["resource_id"]) for e in events if e["result"] == "success"}
    for expected in [
        ("admin", "org.create", r["id"]),
        ("admin", "org.create", x2["id"]),
        ("r-admin", "org.create", c1["id"]),
        ("r-admin", "org.create", c2["id"]),
        ("r-admin", "project.create", web["id"]),
        ("c1-admin", "project.update", web["id"]),
    ]:
        assert expected in done
    assert {("r-admin", "auth.login"), ("c1-admin", "auth.login")} <= {
        (e["actor_name"], e["action"]) for e in events
    }

    exported = server.data_dir.parent / "audit.jsonl"
    cli.run("audit", "export", "--format", "jsonl", "--output-file", str(exported), profile="op")
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [e["seq"] for e in lines] == [e["seq"] for e in events] and all(e["hash"] for e in lines)
    rows = list(
        csv.DictReader(io.StringIO(cli.run("audit", "export", "--format", "csv", profile="op").stdout))
    )
    assert {"seq", "action", "prev_hash", "hash"} <= set(rows[0]) and len(rows) >= len(events)

    # C1's administrator sees only records about C1, in the list and in the export.
    mine = audit_events(cli, "c1")
    assert mine and all(c1["id"] in e["target_org_path"] for e in mine)
    assert {e["resource_id"] for e in mine}.isdisjoint({c2["id"], db["id"], x2["id"], r2["id"]})
    own_export = cli.run("audit", "export", profile="c1").stdout
    assert c2["id"] not in own_export and web["id"] in own_export

    # Only the operator verifies the chain; it is intact.
    ok = cli.run("audit", "verify", profile="op", entry=ENTRY_POINT)
    assert "The audit trail is intact" in ok.stdout
    cli.run("audit", "verify", profile="c1", expect=NOT_FOUND)

    # Logging out revokes and removes the token: the profile now asks to log in.
    cli.run("logout", profile="c1")
    assert not (cli.config_dir / "tokens" / "c1.json").exists()
    assert "Not logged in: run `hexagone login" in cli.run("whoami", profile="c1", expect=AUTH).stderr


def _code_for_next_steps(secret: str) -> tuple[str, str, str]:
    """Codes for three consecutive steps, the first one already current, away from a step boundary."""
    if time.time() % totp.STEP > totp.STEP - 4:
        time.sleep(5)
    step = totp.step_of(time.time())
    return totp.code_at(secret, step - 1), totp.code_at(secret, step), totp.code_at(secret, step + 1)


def test_totp_enrolment_then_login_asks_for_the_code(cli: Cli, server: Server) -> None:
    cli.json("org", "create", "--name", "T", profile="op")
    new_user(cli, "op", "T", "t-admin")
    cli.login(server.url, "t-admin", PW, "t")

    enrol = cli.run("user", "totp", "enrol", profile="t").stdout
    secret = next(line.split()[-1] for line in enrol.splitlines() if line.startswith("Secret:"))
    assert "otpauth://totp/" in enrol and secret in enrol
    confirm_code, prompt_code, option_code = _code_for_next_steps(secret)
    confirmed = cli.run("user", "totp", "confirm", confirm_code, profile="t").stdout
    recovery = [line.strip() for line in confirmed.splitlines() if line.startswith("  ")]
    assert len(recovery) == 10

    # Without a code the API answers mfa-required; the CLI prompts (answered on stdin) and retries.
    asked = cli.run("login", "--password-stdin", profile="t", stdin=f"{PW}\n{prompt_code}\n")
    assert "Logged in" in asked.stdout
    # With --totp-code the prompt is answered up front; a wrong code is refused with the auth exit code.
    cli.login(
        server.url,
        "t-admin",
        PW,
        "t",
        "--totp-code",
        "000000" if option_code != "000000" else "111111",
        expect=AUTH,
    )
    logged = cli.json("login", "--password-stdin", "--totp-code", option_code, profile="t", stdin=PW + "\n")
    assert logged["mfa"] is True and "token" not in logged
    # A recovery code works once, instead of the authenticator.
    cli.login(server.url, "t-admin", PW, "t", "--recovery-code", recovery[0])
    cli.login(server.url, "t-admin", PW, "t", "--recovery-code", recovery[0], expect=AUTH)
    assert "Second factor disabled" in cli.run("user", "totp", "disable", recovery[1], profile="t").stdout

    actions = [e["action"] for e in audit_events(cli, "op") if e["actor_name"] == "t-admin"]
    assert {"auth.totp.begin", "auth.totp.enable", "auth.totp.disable", "auth.login"} <= set(actions)
    token_file = cli.config_dir / "tokens" / "t.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def _verify(cli: Cli, expect: int) -> str:
    return cli.run("audit", "verify", profile="op", expect=expect).stderr


def test_audit_verify_names_the_modified_or_deleted_record(cli: Cli, server: Server) -> None:
    db = sqlite3.connect(server.db_path)
    try:
        seq, action = db.execute(
            "SELECT seq, action FROM audit_events WHERE action = 'org.create' ORDER BY seq LIMIT 1"
        ).fetchone()
        with db:
            db.execute("UPDATE audit_events SET action = 'org.read' WHERE seq = ?", (seq,))
        err = _verify(cli, INTEGRITY)
        assert f"broken at record {seq}: record {seq} was modified" in err
        with db:
            db.execute("UPDATE audit_events SET action = ? WHERE seq = ?", (action, seq))
        _verify(cli, 0)

        (gone,) = db.execute("SELECT max(seq) - 2 FROM audit_events").fetchone()
        with db:
            db.execute("DELETE FROM audit_events WHERE seq = ?", (gone,))
        assert f"record {gone} is missing" in _verify(cli, INTEGRITY)
    finally:
        db.close()
    as_json = cli.run("--output", "json", "audit", "verify", profile="op", expect=INTEGRITY)
    assert as_json.json()["first_bad_seq"] == gone and json.loads(as_json.stderr)["exit_code"] == INTEGRITY
