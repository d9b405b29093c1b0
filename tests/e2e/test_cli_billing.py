"""Issue 4: ``hexagone billing ...`` against a real ``hexagone up`` (local agent on the fake driver).

The operator prices flavor tiny, a reseller adds its markup, a customer gets a quote, runs a server
and deletes it; the operator closes the month; invoices are listed and downloaded (Factur-X PDF,
CSV) and the revenue report's CSV names the reseller.

A month can be closed only once it is over, and the API reads time only from its injected clock. The
server therefore runs under a test clock: ``hexagone up`` is started through a few lines that replace
``SystemClock.now`` with the real time plus an offset read from a file, so the test can place the
region two minutes before the end of a month and then step past it, without sleeping.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli_helpers import Cli, Server, free_port, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OPERATOR_PW = "operator-secret-2026"
PW = "a-long-enough-passphrase"
CONFLICT = 6
UTC = dt.UTC

#: ``hexagone up`` with a clock the test moves: real time plus the offset (seconds) in $CLOCK_FILE.
SHIFTED_UP = """
import datetime as dt, os, sys
from pathlib import Path
from hexagone import clock

_file = Path(os.environ["BILLING_E2E_CLOCK_FILE"])

def _now(self):
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(_file.read_text()))

clock.SystemClock.now = _now
sys.argv = ["hexagone", *sys.argv[1:]]
from hexagone.main import main
main()
"""


class TestClock:
    """The server's notion of now, set by writing an offset file (read on every ``now()``)."""

    __test__ = False

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, when: dt.datetime) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str((when - dt.datetime.now(UTC)).total_seconds()))
        os.replace(tmp, self.path)

    def advance(self, seconds: float) -> None:
        offset = float(self.path.read_text()) + seconds
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.path)


def month_end(now: dt.datetime) -> dt.datetime:
    """The first instant after ``now``'s month (UTC)."""
    last = calendar.monthrange(now.year, now.month)[1]
    return dt.datetime(now.year, now.month, last, tzinfo=UTC) + dt.timedelta(days=1)


#: The billed month: the real current one; the region starts five minutes before it ends.
PERIOD_END = month_end(dt.datetime.now(UTC))
MONTH = (PERIOD_END - dt.timedelta(days=1)).strftime("%Y-%m")


def start_billing_server(tmp: Path, clock_file: Path) -> Server:
    port = free_port()
    data_dir, log = tmp / "data", tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXAGONE_")}
    env.update(
        {
            "HEXAGONE_DATA_DIR": str(data_dir),
            "HEXAGONE_ADMIN_PASSWORD": OPERATOR_PW,
            "HEXAGONE_ARGON2_TIME_COST": "1",
            "HEXAGONE_ARGON2_MEMORY_KIB": "8192",
            "HEXAGONE_ARGON2_PARALLELISM": "1",
            "HEXAGONE_LOCAL_AGENT": "true",
            "HEXAGONE_LOCAL_AGENT_DRIVER": "fake",
            "BILLING_E2E_CLOCK_FILE": str(clock_file),
        }
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SHIFTED_UP, "up", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown ends the agent it started too
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hexagone up exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return Server(url, data_dir, proc, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"hexagone up did not answer within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> TestClock:
    c = TestClock(tmp_path_factory.mktemp("clock") / "offset")
    c.set(PERIOD_END - dt.timedelta(minutes=5))
    return c


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, clock: TestClock) -> Iterator[Server]:
    srv = start_billing_server(tmp_path_factory.mktemp("hexagone-billing"), clock.path)
    try:
        yield srv
    finally:
        stop_server(srv.process)


@pytest.fixture(scope="module")
def cli(server: Server) -> Iterator[Cli]:
    c = Cli(server.data_dir.parent / "cli-config")
    c.login(server.url, "admin", OPERATOR_PW, "op")
    yield c
    tokens = [json.loads(p.read_text())["token"] for p in (c.config_dir / "tokens").glob("*.json")]
    for out in c.outputs:
        assert not any(t in out for t in tokens), "a token was printed"
        assert PW not in out and OPERATOR_PW not in out, "a password was printed"


def wait_for_compute(cli: Cli) -> None:
    """The local agent is up and the default flavors exist (both come from a thread of `hexagone up`)."""
    deadline = time.monotonic() + 30
    while True:
        hosts = [h for h in cli.json("host", "list", profile="op")["items"] if h["status"] == "up"]
        if hosts:  # the thread registers the flavors before it starts the agent
            return
        assert time.monotonic() < deadline, "no compute host is up: see the server log"
        time.sleep(0.3)


def test_price_quote_use_close_invoice_and_report(cli: Cli, server: Server, clock: TestClock) -> None:
    tmp = server.data_dir.parent
    wait_for_compute(cli)
    region = cli.json("region", "list", profile="op")["items"][0]["name"]

    # The operator's wholesale price: 36.00 EUR an hour for tiny, i.e. one cent a second.
    price = cli.json(
        "billing", "price", "set", "--region", region, "--flavor", "tiny", "--price", "36.00", profile="op"
    )
    assert price["product"] == "instance.tiny" and price["price"] == "36"
    assert "instance.tiny" in cli.run("billing", "price", "list", profile="op").stdout

    # A reseller R1 with a 20 % markup, set by its own administrator, and its customer C1.
    # (a reseller invoices its customers: it needs a complete legal identity first)
    cli.json(
        "org", "create", "--name", "R1", "--kind", "reseller", "--country", "FR", "--siren", "732829320",
        "--vat-id", "FR44732829320", "--address", "1 rue de la Paix, Paris", profile="op",
    )  # fmt: skip
    cli.json("org", "create", "--name", "C1", "--parent", "R1", profile="op")
    for org, user in (("R1", "r1-admin"), ("C1", "c1-admin")):
        cli.json(
            "user", "create", "--org", org, "--name", user, "--role", "admin", "--password-stdin",
            profile="op", stdin=PW + "\n",
        )  # fmt: skip
        cli.login(server.url, user, PW, org.lower())
    cli.json("billing", "rule", "set", "--markup", "20", profile="r1")
    assert "markup" in cli.run("billing", "rule", "list", profile="r1").stdout

    # Quotes, before any server exists: the reseller pays wholesale, its customer 20 % more.
    assert cli.json("billing", "quote", "--flavor", "tiny", "--org", "R1", profile="op")["per_hour"] == "36.00"
    quote = cli.json("billing", "quote", "--flavor", "tiny", profile="c1")
    assert (quote["per_hour"], quote["per_month"], quote["vat_excluded"]) == ("43.20", "31536.00", True)
    table = cli.run("billing", "quote", "--flavor", "tiny", "--region", region, profile="c1").stdout
    assert "43.20 EUR per hour" in table and "31536.00" in table

    # The customer runs a server for 30 s of (test) time, then deletes it.
    disk = tmp / "x.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(disk), "64M"], check=True, capture_output=True)
    cli.json("project", "create", "--org", "C1", "--name", "web", profile="c1")
    cli.json("image", "create", "cirros", "--disk-format", "qcow2", "--file", str(disk), profile="c1")
    created = cli.json(
        "server", "create", "vm1", "--project", "web", "--flavor", "tiny", "--image", "cirros", "--wait",
        "--timeout", "30", profile="c1",
    )  # fmt: skip
    assert created["state"] == "RUNNING"
    clock.advance(30)
    usage = cli.json("billing", "usage", profile="c1")
    assert usage["period"] == MONTH and [ln["product"] for ln in usage["lines"]] == ["instance.tiny"]
    assert Decimal(usage["total_net"]) > 0
    cli.run("server", "delete", "vm1", "--wait", "--timeout", "30", profile="c1")

    # The month is not over yet: closing it is a conflict. Then the month ends.
    early = cli.run("billing", "close", "--month", MONTH, profile="op", expect=CONFLICT)
    assert "not over yet" in early.stderr
    clock.set(PERIOD_END + dt.timedelta(seconds=5))
    # The operator has no legal identity yet: its invoice to R1 is held, not issued, and the close says why.
    held = cli.run("billing", "close", "--month", MONTH, profile="op")
    assert "1 invoice(s) issued" in held.stdout and "Held" in held.stderr and "a SIREN or SIRET" in held.stderr
    root = cli.json("whoami", profile="op")["organisation"]["id"]
    cli.json(
        "org", "update", root, "--siren", "552081317", "--vat-id", "FR03552081317", "--address", "2 place de la Bourse",
        profile="op",
    )  # fmt: skip
    closed = cli.json("billing", "close", "--month", MONTH, profile="op")
    # the held invoice (operator -> R1) now issued; R1 -> C1 was issued by the first close
    assert closed["issued"] == 1 and closed["held"] == [] and closed["skipped"] == 1 and closed["unpriced"] == []
    assert "0 invoice(s) issued, 2 already issued" in cli.run("billing", "close", "--month", MONTH, profile="op").stdout

    # Invoices: the operator bills R1 at wholesale, R1 bills C1 with its markup.
    wholesale = cli.json("billing", "invoice", "list", "--role", "issuer", "--month", MONTH, profile="op")["items"]
    retail = cli.json("billing", "invoice", "list", profile="c1")["items"]
    assert len(wholesale) == 1 and len(retail) == 1
    assert Decimal(retail[0]["total_net"]) > Decimal(wholesale[0]["total_net"]) > 0
    number = retail[0]["number"]
    listed = cli.run("billing", "invoice", "list", "--role", "issuer", profile="r1").stdout
    assert number in listed and "C1" in listed
    shown = cli.run("billing", "invoice", "show", number, profile="c1").stdout
    assert number in shown and "Lines" in shown

    pdf, csv_path = tmp / "invoice.pdf", tmp / "invoice.csv"
    cli.run("billing", "invoice", "download", number, "--format", "pdf", "--output-file", str(pdf), profile="c1")
    cli.run("billing", "invoice", "download", retail[0]["id"], "--format", "csv", "--output-file", str(csv_path),
            profile="c1")  # fmt: skip
    assert pdf.read_bytes().startswith(b"%PDF")
    rows = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert rows[0][:3] == ["number", "kind", "issued_at"] and rows[1][0] == number

    # The operator's revenue report: the API's CSV names the reseller; --by groups the table.
    report_csv = tmp / "revenue.csv"
    cli.run("billing", "report", "--month", MONTH, "--csv", str(report_csv), profile="op")
    report = list(csv.DictReader(io.StringIO(report_csv.read_text())))
    assert report and {r["reseller"] for r in report} >= {"R1"}
    assert list(report[0]) == ["month", "region", "reseller", "customer", "product", "revenue", "cost", "margin"]
    by_reseller = cli.json("billing", "report", "--month", MONTH, "--by", "reseller", profile="op")["items"]
    assert {r["reseller"] for r in by_reseller} >= {"R1"} and all(set(r) == {"month", "reseller", "revenue", "cost",
                                                                           "margin"} for r in by_reseller)  # fmt: skip

    # Corrections and prepaid credit, by the reseller (C1's issuer); a budget of the customer.
    note = cli.json("billing", "credit-note", "create", number, "--reason", "goodwill", "--line", "1=0.01",
                    profile="r1")  # fmt: skip
    assert note["kind"] == "credit_note" and note["corrects_invoice_id"] == retail[0]["id"]
    assert cli.json("billing", "credit", "add", "--org", "C1", "--amount", "10.00", profile="r1")["balance"] == "10.00"
    assert "Balance: 10.00" in cli.run("billing", "credit", "show", profile="c1").stdout
    cli.json("billing", "budget", "create", "--name", "monthly", "--amount", "100.00", "--threshold", "50",
             profile="c1")  # fmt: skip
    cli.json("billing", "budget", "update", "monthly", "--amount", "200.00", profile="c1")
    assert "200.00" in cli.run("billing", "budget", "list", profile="c1").stdout
    cli.run("billing", "budget", "events", "monthly", profile="c1")
