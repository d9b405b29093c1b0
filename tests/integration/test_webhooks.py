"""Budget webhooks: no request forgery towards non-public destinations (at create, at update and
after DNS resolution at delivery), and one outbox delivering what requests and periodic jobs
produce — to a real HTTP receiver, with retries, backoff, a final give-up, and nothing lost when
the process dies between the commit and the delivery."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hexagone.api.app import create_app, wrap
from hexagone.bootstrap import build_runtime
from hexagone.compute import jobs
from hexagone.db.outbox_models import WebhookDelivery
from hexagone.webhooks import outbox
from hexagone.webhooks.rules import AddressPolicy
from hexagone.webhooks.sender import HttpSender
from tests.integration.billing_helpers import Cloud, at, cloud

pytestmark = pytest.mark.integration


@pytest.fixture
def client(rt: Any) -> Iterator[TestClient]:
    """The app without its periodic loop: each test runs the delivery job itself, at instants it
    chooses (the loop would deliver on its own every 10 s of real time)."""
    app = create_app(rt.settings, rt.db, rt.clock, rt.hasher, extras={"periodic_jobs": False})
    with TestClient(wrap(app, rt.settings), raise_server_exceptions=False) as c:
        yield c


@dataclass
class Receiver:
    port: int
    hits: list[dict[str, Any]] = field(default_factory=list)
    status: int = 204
    location: str = ""

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on loopback recording every request it gets."""
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.hits.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"{}")})
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _budget(c: Cloud, url: str, amount: str = "2") -> tuple[str, str, Any]:
    """A customer whose running instance costs 1.00/h, with a budget of ``amount`` at 50 and 100 %."""
    c.price("instance.small", "1.00")
    cust = c.api.org(c.op, c.root_id, "customer", country="FR")
    pid = c.api.project(c.op, cust["id"])["id"]
    _, owner = c.api.user(c.op, cust["id"], ["admin"])
    budget = owner.ok("POST", "/v1/billing/budgets", {"org_id": cust["id"], "name": "monthly", "amount": amount,
                                                      "thresholds": [50, 100], "webhook_url": url})
    iid = c.create(pid, "small")
    c.report(iid, "RUNNING")
    return budget["id"], cust["id"], owner


def _deliveries(rt: Any) -> list[SimpleNamespace]:
    with rt.db.read() as s:
        rows = s.execute(select(WebhookDelivery).order_by(WebhookDelivery.created_at)).scalars()
        return [SimpleNamespace(**{c.key: getattr(r, c.key) for c in WebhookDelivery.__table__.columns}) for r in rows]


def _allow_loopback(rt: Any) -> None:
    rt.settings.webhook_allowed_networks = ["127.0.0.0/8"]


PRIVATE_URLS = [
    "http://127.0.0.1:8080/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.0.1/",
    "http://[::1]/", "http://[fd00::1]/", "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/", "http://2130706433/",
    "ftp://hooks.example.com/", "https://user:pw@hooks.example.com/", "gopher://127.0.0.1:6379/_FLUSHALL",
]


def test_webhooks_to_non_public_destinations_are_refused_at_create_and_at_update(api, rt, tmp_path):
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path)
    cust = api.org(c.op, c.root_id, "customer", country="FR")
    _, owner = api.user(c.op, cust["id"], ["admin"])
    body = {"org_id": cust["id"], "name": "b", "amount": "10"}
    for url in PRIVATE_URLS:
        r = owner.post("/v1/billing/budgets", json={**body, "webhook_url": url})
        assert r.status_code == 400, (url, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json") and "webhook_url" in r.json()["detail"]
    budget = owner.ok("POST", "/v1/billing/budgets", {**body, "webhook_url": "https://hooks.example.com/b"})
    for url in PRIVATE_URLS:
        r = owner.patch(f"/v1/billing/budgets/{budget['id']}", json={"webhook_url": url})
        assert r.status_code == 400, (url, r.status_code, r.text)
    assert owner.ok("GET", f"/v1/billing/budgets?org_id={cust['id']}")["items"][0]["webhook_url"] == (
        "https://hooks.example.com/b")
    owner.ok("PATCH", f"/v1/billing/budgets/{budget['id']}", {"webhook_url": ""})  # clearing it is fine


def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(api, rt, tmp_path, receiver):
    """``localhost`` passes the create-time check (it is a name), but resolves to 127.0.0.1: the
    delivery refuses it after resolution and never retries; the receiver gets nothing."""
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path)
    budget_id, _, owner = _budget(c, receiver.url("localhost"))
    c.when(at(1, 10))
    c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)
    done = jobs.deliver_webhooks(rt)
    assert len(done.refused) == 1 and not done.delivered
    assert receiver.hits == []
    (event,) = owner.ok("GET", f"/v1/billing/budgets/{budget_id}/events")["items"]
    assert event["webhook"]["status"] == "refused" and "not a public address" in event["webhook"]["last_error"]
    c.when(at(1, 12))
    assert not jobs.deliver_webhooks(rt)  # refused is final
    assert receiver.hits == []


def test_webhooks_from_a_request_and_from_the_periodic_job_are_delivered(api, rt, tmp_path, receiver):
    rt.clock.set(at(1, 9))
    _allow_loopback(rt)
    c = cloud(api, rt, tmp_path)
    budget_id, _, owner = _budget(c, receiver.url())
    c.when(at(1, 10))  # 1.00 of 2.00: the 50 % threshold, found by a request
    c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)
    c.when(at(1, 11))  # 2.00 of 2.00: the 100 % threshold, found by the periodic billing job
    jobs.run_billing(rt)
    assert receiver.hits == []  # nothing leaves inside a transaction: the outbox holds both
    done = jobs.deliver_webhooks(rt)
    assert len(done.delivered) == 2
    assert sorted(h["body"]["threshold"] for h in receiver.hits) == [50, 100]
    hit = receiver.hits[0]
    assert hit["path"] == "/hook" and hit["body"]["budget_id"] == budget_id
    assert hit["headers"]["Hexagone-Event"] == "budget.threshold"
    assert hit["headers"]["Hexagone-Delivery"] == hit["body"]["delivery_id"]
    events = owner.ok("GET", f"/v1/billing/budgets/{budget_id}/events")["items"]
    assert [(e["threshold"], e["webhook"]["status"], e["webhook"]["attempts"]) for e in events] == [
        (50, "delivered", 1), (100, "delivered", 1)]
    assert not jobs.deliver_webhooks(rt)  # delivered once


def test_the_sender_connects_to_the_checked_address_and_keeps_the_name(api, rt, tmp_path, receiver):
    """The name is resolved once and the connection goes to that address (no second lookup a
    rebinding DNS could answer differently); the Host header keeps the name."""
    rt.clock.set(at(1, 9))
    c = cloud(api, rt, tmp_path)
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["93.184.216.34"]

    _budget(c, receiver.url("hooks.example.test"))
    c.when(at(1, 10))
    c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)
    sender = HttpSender(AddressPolicy.from_cidrs(["127.0.0.0/8"]), resolver=resolver)
    state = SimpleNamespace(settings=rt.settings, db=rt.db, clock=rt.clock, webhook_sender=sender)
    assert len(jobs.deliver_webhooks(state).delivered) == 1
    assert lookups == ["hooks.example.test"]
    assert receiver.hits[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"
    # a name with one non-public address among public ones is refused as a whole
    sender = HttpSender(AddressPolicy(), resolver=lambda h, p: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(Exception, match="10.0.0.7, which is not a public address"):
        sender.send(receiver.url("hooks.example.test"), {}, {})


def test_failures_are_retried_with_backoff_then_given_up(api, rt, tmp_path, receiver):
    rt.clock.set(at(1, 9))
    _allow_loopback(rt)
    rt.settings.webhook_max_attempts = 3
    c = cloud(api, rt, tmp_path)
    budget_id, _, owner = _budget(c, receiver.url(), amount="100")
    receiver.status = 500
    c.when(at(1, 9, 50))
    jobs.run_billing(rt)  # nothing crossed yet
    c.when(at(2))  # 15 h of 100: no threshold; make one cross
    owner.ok("PATCH", f"/v1/billing/budgets/{budget_id}", {"thresholds": [10]})
    c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)
    t0 = rt.clock.now()
    assert len(jobs.deliver_webhooks(rt).retrying) == 1
    (row,) = _deliveries(rt)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    assert row.next_attempt_at == t0 + dt.timedelta(seconds=30)
    assert not jobs.deliver_webhooks(rt)  # not due yet
    c.when(t0 + dt.timedelta(seconds=30))
    receiver.status, receiver.location = 302, receiver.url(path="/elsewhere")
    assert len(jobs.deliver_webhooks(rt).retrying) == 1  # a redirect is a failure, never followed
    (row,) = _deliveries(rt)
    assert row.next_attempt_at == t0 + dt.timedelta(seconds=90) and "redirect" in row.last_error
    c.when(t0 + dt.timedelta(seconds=90))
    receiver.status, receiver.location = 503, ""
    assert len(jobs.deliver_webhooks(rt).failed) == 1
    assert [h["path"] for h in receiver.hits] == ["/hook"] * 3
    (event,) = owner.ok("GET", f"/v1/billing/budgets/{budget_id}/events")["items"]
    assert (event["webhook"]["status"], event["webhook"]["attempts"]) == ("failed", 3)
    c.when(t0 + dt.timedelta(days=1))
    assert not jobs.deliver_webhooks(rt)


def test_a_crash_between_commit_and_delivery_loses_nothing(api, rt, tmp_path, receiver):
    """The event commits with its outbox row; the process that wrote it dies before sending. A
    fresh process delivers it. A worker that dies after claiming a row only delays it by the lease."""
    rt.clock.set(at(1, 9))
    _allow_loopback(rt)
    c = cloud(api, rt, tmp_path)
    _budget(c, receiver.url())
    c.when(at(1, 10))
    c.op.ok("POST", "/v1/billing/budgets/evaluate", status=200)  # committed; no delivery ran ("crash")
    (row,) = _deliveries(rt)
    assert row.status == "pending"
    restarted = build_runtime(rt.settings, clock=rt.clock)  # a new process: new engine, nothing in memory
    try:
        now = rt.clock.now()
        assert outbox._claim(restarted.db, row.id, now, dt.timedelta(seconds=65)) is not None  # then dies
        assert not jobs.deliver_webhooks(restarted)  # leased: not sent twice at once
        c.when(now + dt.timedelta(seconds=65))
        assert len(jobs.deliver_webhooks(restarted).delivered) == 1
    finally:
        restarted.db.dispose()
    assert len(receiver.hits) == 1
    (row,) = _deliveries(rt)
    assert (row.status, row.attempts) == ("delivered", 2)


def test_https_keeps_the_name_for_tls_while_connecting_to_the_checked_address(tmp_path):
    """Over HTTPS the pinned connection still sends the name as TLS server name and checks the
    certificate against the name (not the address): another name on the same address fails."""
    import ssl
    import subprocess

    from hexagone.errors import TemporaryError

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=hooks.example.test",
                    "-addext", "subjectAltName=DNS:hooks.example.test"], check=True, capture_output=True)
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["host"] = self.headers["Host"]
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    def remember_sni(sock: Any, name: str | None, ctx: Any) -> None:
        seen.setdefault("sni", name)

    server_ctx.sni_callback = remember_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender = HttpSender(AddressPolicy.from_cidrs(["127.0.0.0/8"]), resolver=lambda h, p: ["127.0.0.1"],
                            verify=ssl.create_default_context(cafile=str(cert)))
        assert sender.send(f"https://hooks.example.test:{port}/hook", {"x": 1}, {}) == 200
        assert seen == {"sni": "hooks.example.test", "host": f"hooks.example.test:{port}"}
        with pytest.raises(TemporaryError):
            sender.send(f"https://other.example.test:{port}/hook", {"x": 1}, {})
    finally:
        server.shutdown()
        server.server_close()
