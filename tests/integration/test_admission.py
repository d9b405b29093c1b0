"""Admission control: authentication rate limits (native and Keystone), the bounded password
hashing queue, aggregated audit records for unknown login names, per-principal limits on heavy
requests, and a health check that answers while slow requests hold every worker thread."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from hexagone.audit.service import CHAIN_KEY, verify_chain
from hexagone.bootstrap import Runtime, build_asgi, build_runtime, initialise
from hexagone.clock import FrozenClock
from hexagone.db.models import AuditEvent
from hexagone.errors import Unauthenticated
from tests.conftest import ADMIN_PASSWORD
from tests.conftest import test_settings as settings_for

Factory = Callable[..., Runtime]


@pytest.fixture
def make_rt(db_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Factory]:
    made: list[Runtime] = []

    def make(**settings: Any) -> Runtime:
        rt = build_runtime(settings_for(tmp_path / "data", db_url, **settings), clock=clock)
        initialise(rt)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.db.dispose()


def clients(rt: Runtime, *sources: str) -> list[TestClient]:
    app = build_asgi(rt)
    return [TestClient(app, raise_server_exceptions=False, client=(s, 40000)) for s in sources]


WRONG = "wrong-password-123"


def login(c: TestClient, name: str, password: str = WRONG) -> Any:
    return c.post("/v1/auth/login", json={"username": name, "password": password})


def keystone(c: TestClient, name: str, password: str = WRONG) -> Any:
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": name, "password": password, "domain": {"name": "Default"}}}}}}
    return c.post("/identity/v3/auth/tokens", json=body)


def assert_limited(r: Any) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1


def login_failures(rt: Runtime) -> int:
    with rt.db.read() as s:
        return int(s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "auth.login", AuditEvent.result == "failure")).scalar_one())


# --- authentication rate limits ---------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [login, keystone], ids=["v1", "keystone"])
def test_authentication_is_rate_limited_per_source(make_rt: Factory, clock: FrozenClock, attempt: Any) -> None:
    rt = make_rt(auth_rate_per_source=5, auth_rate_per_account=0, auth_rate_window_seconds=60)
    a, b = clients(rt, "198.51.100.7", "198.51.100.8")
    for i in range(5):
        assert attempt(a, f"nobody-{i}").status_code == 401
    r = attempt(a, "nobody-else")
    assert_limited(r)
    if attempt is login:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 429
    else:
        assert r.json()["error"]["code"] == 429
    assert attempt(b, "nobody-9").status_code == 401  # another source is not limited
    clock.advance(int(r.headers["retry-after"]))
    assert attempt(a, "nobody-10").status_code == 401  # the bucket refills with time


@pytest.mark.parametrize("attempt", [login, keystone], ids=["v1", "keystone"])
def test_authentication_is_rate_limited_per_account(make_rt: Factory, attempt: Any) -> None:
    rt = make_rt(auth_rate_per_source=0, auth_rate_per_account=3, login_max_failures=100)
    sources = clients(rt, "203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4")
    for c in sources[:3]:
        assert attempt(c, "admin").status_code == 401
    assert_limited(attempt(sources[3], "admin"))  # a fourth address does not help
    assert_limited(attempt(sources[3], "admin", ADMIN_PASSWORD))  # nor does the right password, for now
    assert attempt(sources[3], "someone-else").status_code == 401  # other accounts are not limited


def test_a_limited_attempt_hashes_no_password(make_rt: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = make_rt(auth_rate_per_source=2, auth_rate_per_account=0)
    (c,) = clients(rt, "198.51.100.20")
    calls: list[int] = []
    real = rt.hasher.verify_password
    monkeypatch.setattr(rt.hasher, "verify_password", lambda *a: calls.append(1) or real(*a))
    login(c, "x1"), login(c, "x2")
    assert len(calls) == 2  # unknown names cost one (dummy) verification each, as a wrong password does
    for _ in range(4):
        assert_limited(login(c, "x3"))
    assert len(calls) == 2


# --- bounded hashing queue --------------------------------------------------------------------------


def test_password_hashing_queue_is_bounded(make_rt: Factory) -> None:
    """When every argon2id slot is busy and no one may wait, a login answers 429 at once with
    Retry-After instead of queueing a thread."""
    rt = make_rt(hash_queue_max=0, hash_queue_seconds=0.1)
    (c,) = clients(rt, "192.0.2.5")
    slots = rt.hasher.slots
    for _ in range(slots.slots):
        slots.acquire()
    try:
        started = time.monotonic()
        r = login(c, "admin", ADMIN_PASSWORD)
        assert_limited(r)
        assert time.monotonic() - started < 5
    finally:
        for _ in range(slots.slots):
            slots.release()
    assert login(c, "admin", ADMIN_PASSWORD).status_code == 201


# --- aggregated audit records for unknown names -----------------------------------------------------


def test_failed_logins_for_unknown_names_are_aggregated(make_rt: Factory, clock: FrozenClock) -> None:
    rt = make_rt(auth_rate_per_source=0, auth_rate_window_seconds=60)
    (c,) = clients(rt, "198.51.100.99")
    before = login_failures(rt)
    for i in range(120):
        assert login(c, f"ghost-{i}").status_code == 401
    assert login_failures(rt) - before == 1  # one record, the rest counted
    clock.advance(61)
    assert login(c, "ghost-late").status_code == 401
    assert login_failures(rt) - before == 3  # the count of the closed window, then the new window's first
    with rt.db.read() as s:
        summary = s.execute(select(AuditEvent).where(AuditEvent.action == "auth.login")
                            .order_by(AuditEvent.seq.desc()).offset(1).limit(1)).scalar_one()
        assert summary.details["count"] == 119 and summary.details["source"] == "198.51.100.99"
        assert verify_chain(s, rt.hasher.derived_key(CHAIN_KEY)).ok
    # a known account's failures are still recorded one by one
    for _ in range(3):
        assert login(c, "admin").status_code == 401
    assert login_failures(rt) - before == 6


# --- heavy requests and health ----------------------------------------------------------------------


def _gather(calls: list[Callable[[], Any]]) -> tuple[list[threading.Thread], queue.Queue[Any]]:
    out: queue.Queue[Any] = queue.Queue()
    threads = [threading.Thread(target=lambda f=f: out.put(f()), daemon=True) for f in calls]
    for t in threads:
        t.start()
    return threads, out


def test_one_principal_cannot_run_more_than_its_heavy_share(
    make_rt: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hexagone.compute import instances

    rt = make_rt(admission_heavy_per_principal=2, admission_heavy_slots=4)
    app = build_asgi(rt)
    release, inside = threading.Event(), threading.Semaphore(0)
    real = instances.list_instances

    def slow(*args: Any, **kw: Any) -> Any:
        inside.release()
        release.wait(20)
        return real(*args, **kw)

    with TestClient(app, raise_server_exceptions=False) as c:
        token = login(c, "admin", ADMIN_PASSWORD).json()["token"]
        other = login(c, "admin", ADMIN_PASSWORD).json()["token"]  # another credential: another principal
        monkeypatch.setattr(instances, "list_instances", slow)
        h = {"Authorization": f"Bearer {token}"}
        threads, out = _gather([lambda: c.get("/v1/instances", headers=h) for _ in range(5)])
        try:
            refused = [out.get(timeout=20) for _ in range(3)]
            assert all(r.status_code == 429 and int(r.headers["retry-after"]) >= 1 for r in refused)
            assert inside.acquire(timeout=20) and inside.acquire(timeout=20)
            small = c.get("/v1/auth/whoami", headers={"Authorization": f"Bearer {other}"})
            assert small.status_code == 200
        finally:
            release.set()
        admitted = [out.get(timeout=20) for _ in range(2)]
        assert [r.status_code for r in admitted] == [200, 200]


def test_health_answers_while_slow_requests_hold_every_worker_thread(
    make_rt: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """45 requests (45 different credentials) stuck in authentication hold all 40 worker threads;
    /v1/health still answers at once. Bounds are generous: the stuck requests wait 8 s, health
    must answer within 3 s (on the old code it waited for a thread, i.e. the full 8 s)."""
    from hexagone.api import deps

    rt = make_rt()
    release = threading.Event()
    entered = threading.Semaphore(0)

    def stuck(uc: Any, credential: str) -> Any:
        entered.release()
        release.wait(8)
        raise Unauthenticated("nope")

    monkeypatch.setattr(deps, "authenticate", stuck)
    with TestClient(build_asgi(rt), raise_server_exceptions=False) as c:
        threads, out = _gather([lambda i=i: c.get("/v1/auth/whoami", headers={"Authorization": f"Bearer t{i}"})
                                for i in range(45)])
        try:
            for _ in range(40):  # every worker thread is taken
                assert entered.acquire(timeout=20)
            started = time.monotonic()
            r = c.get("/v1/health")
            elapsed = time.monotonic() - started
            assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"
            assert elapsed < 3.0, f"health took {elapsed:.1f} s behind busy worker threads"
        finally:
            release.set()
        for t in threads:
            t.join(30)
        assert {out.get(timeout=1).status_code for _ in range(45)} == {401}
