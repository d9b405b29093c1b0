"""Issue 9, items 5 to 9: what a new user met in the first hour with the CLI, driven through the
real ``hexagone`` CLI (subprocesses) against a real ``hexagone up``."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.cli_helpers import CLIENT_ONLY, ENTRY_POINT, Cli, Server, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

OPERATOR_PW = "operator-secret-2026"
PW = "a-long-enough-passphrase"
USAGE, FORBIDDEN, NOT_FOUND, CONFLICT = 2, 4, 5, 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("hexagone-first-hour"), OPERATOR_PW)
    try:
        yield srv
    finally:
        stop_server(srv.process)


@pytest.fixture(scope="module")
def cli(server: Server) -> Iterator[Cli]:
    c = Cli(server.data_dir.parent / "cli-config")
    c.login(server.url, "admin", OPERATOR_PW, "op", entry=ENTRY_POINT)
    c.run("org", "create", "--kind", "customer", "--name", "Acme", profile="op")
    c.run("project", "create", "--org", "Acme", "--name", "web", profile="op")
    c.run("user", "create", "--org", "Acme", "--name", "alice", "--role", "admin", "--password-stdin",
          profile="op", stdin=PW + "\n")
    c.run("flavor", "create", "tiny-op", "--vcpus", "1", "--ram-mb", "128", "--disk-gb", "1", profile="op")
    c.login(server.url, "alice", PW, "alice")
    yield c
    for out in c.outputs:
        assert PW not in out and OPERATOR_PW not in out, "a password was printed"


def test_a_second_sibling_with_the_same_name_is_refused_naming_the_first(cli: Cli) -> None:
    first = cli.json("org", "create", "--kind", "reseller", "--name", "R1", profile="op")
    again = cli.run("org", "create", "--kind", "reseller", "--name", "r1", profile="op", expect=CONFLICT)
    assert "'R1'" in again.stderr and first["id"] in again.stderr
    assert cli.json("org", "show", "R1", profile="op")["id"] == first["id"]  # `--org R1` is never ambiguous


@pytest.mark.parametrize(
    "command",
    [
        ("host", "list"),
        ("host", "show", "some-host"),
        ("host", "disable", "some-host"),
        ("host", "join-token", "--region", "local"),
        ("region", "create", "--name", "paris", "--country", "FR", "--legal-entity", "X SAS"),
        ("region", "update", "local", "--description", "mine"),
        ("flavor", "create", "big", "--vcpus", "8", "--ram-mb", "8192", "--disk-gb", "80"),
        ("audit", "verify"),
        ("billing", "price", "list"),
        ("billing", "price", "set", "--region", "local", "--product", "instance.tiny", "--price", "0.01"),
        ("billing", "close", "--month", "2026-01"),
        ("billing", "reconcile"),
        ("billing", "budget", "evaluate"),
        ("flavor", "delete", "tiny-op", "--yes"),
        ("flavor", "access-list", "tiny-op"),
    ],
)
def test_operator_commands_tell_a_customer_they_are_for_the_operator(cli: Cli, command: tuple[str, ...]) -> None:
    """A customer's `host list` answered "The host does not exist" (exit 5)."""
    result = cli.run(*command, profile="alice", expect=None)
    assert result.code == FORBIDDEN, result.stderr
    assert "operator" in result.stderr and "does not exist" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("(request id")]
    assert len(lines) == 1, "one sentence, not repeated"


def test_forbidden_says_what_to_do_once(cli: Cli, server: Server) -> None:
    cli.run("user", "create", "--org", "Acme", "--name", "rita", "--role", "reader", "--password-stdin",
            profile="alice", stdin=PW + "\n")
    cli.login(server.url, "rita", PW, "rita")
    refused = cli.run("project", "create", "--org", "Acme", "--name", "db", profile="rita", expect=FORBIDDEN)
    assert refused.stderr.lower().count("ask an administrator") == 1, refused.stderr


def test_a_quote_without_a_price_gives_no_wrong_advice(cli: Cli) -> None:
    cli.run("flavor", "create", "q1", "--vcpus", "1", "--ram-mb", "256", "--disk-gb", "1", profile="op")
    result = cli.run("billing", "quote", "--flavor", "q1", "--region", "local", profile="alice", expect=NOT_FOUND)
    assert "no price in region local" in result.stderr
    assert "matching `list` command" not in result.stderr


def test_whoami_names_the_scopes_of_the_roles(cli: Cli) -> None:
    acme = cli.json("org", "show", "Acme", profile="op")
    shown = cli.run("whoami", profile="alice").stdout
    assert "admin on org Acme" in shown and acme["id"] not in shown.split("org_id")[0]


@pytest.mark.parametrize(
    ("command", "hint"),
    [(("login", "--username", "alice"), "HEXAGONE_PASSWORD"), (("user", "password"), "--password-stdin")],
)
def test_no_terminal_to_prompt_says_how_to_pass_the_password(cli: Cli, command: tuple[str, ...], hint: str) -> None:
    """Without a terminal getpass printed a GetPassWarning and `Aborted!`."""
    env = {k: v for k, v in os.environ.items() if k != "HEXAGONE_PASSWORD"}
    env["HEXAGONE_CONFIG_DIR"] = str(cli.config_dir)
    proc = subprocess.run(
        [*CLIENT_ONLY, "--profile", "alice", *command], stdin=subprocess.DEVNULL, capture_output=True,
        text=True, env=env, timeout=60, start_new_session=True,  # no controlling terminal either
    )
    assert proc.returncode == USAGE, proc.stderr
    assert "--password-stdin" in proc.stderr and hint in proc.stderr
    assert "GetPassWarning" not in proc.stderr and "Aborted" not in proc.stderr


def test_json_errors_stay_json(cli: Cli) -> None:
    result = cli.run("--output", "json", "host", "list", profile="alice", expect=FORBIDDEN)
    assert json.loads(result.stderr.splitlines()[0])["exit_code"] == FORBIDDEN
