"""Concurrent requests against a real uvicorn server, on SQLite and PostgreSQL: idempotent creates
create once, audit appends keep the chain intact, name races end in one 201 and 409s, never a 500."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn

from hexagone.bootstrap import build_asgi
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.integration

THREADS = 20


@pytest.fixture
def server(rt: Any) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_asgi(rt), log_level="warning", lifespan="on", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=20)
    sock.close()


def admin_headers(url: str) -> dict[str, str]:
    r = httpx.post(f"{url}/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def at_once(n: int, call: Callable[[httpx.Client, int], httpx.Response], url: str) -> list[httpx.Response]:
    """Run ``call`` from ``n`` threads released together; each thread has its own connection."""
    barrier = threading.Barrier(n)

    def run(i: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            return call(client, i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def setup_customer(url: str) -> tuple[dict[str, str], str]:
    h = admin_headers(url)
    root = httpx.get(f"{url}/v1/auth/whoami", headers=h).json()["organisation"]["id"]
    r = httpx.post(
        f"{url}/v1/organisations", headers=h, json={"parent_id": root, "kind": "customer", "name": "Race"}
    )
    assert r.status_code == 201, r.text
    return h, r.json()["id"]


def no_500(responses: list[httpx.Response]) -> None:
    bad = [f"{r.status_code} {r.text[:200]}" for r in responses if r.status_code >= 500]
    assert not bad, bad


def test_concurrent_creates_with_one_idempotency_key_create_once(server):
    h, cust = setup_customer(server)
    body = {"org_id": cust, "name": "idem-project"}
    responses = at_once(
        THREADS,
        lambda c, i: c.post("/v1/projects", json=body, headers={**h, "Idempotency-Key": "same-key"}),
        server,
    )
    no_500(responses)
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") != "true" for r in responses) == 1
    listed = httpx.get(f"{server}/v1/projects?org_id={cust}", headers=h).json()["items"]
    assert [p["name"] for p in listed] == ["idem-project"]
    created = httpx.get(f"{server}/v1/audit/events?action=project.create", headers=h).json()["items"]
    assert len(created) == 1


def test_concurrent_audit_appends_keep_the_chain_valid(server):
    h, cust = setup_customer(server)
    responses = at_once(
        THREADS,
        lambda c, i: c.post("/v1/projects", json={"org_id": cust, "name": f"p{i}"}, headers=h),
        server,
    )
    no_500(responses)
    assert [r.status_code for r in responses] == [201] * THREADS
    verify = httpx.get(f"{server}/v1/audit/verify", headers=h).json()
    assert verify["ok"], verify
    items = httpx.get(f"{server}/v1/audit/events?limit=1000", headers=h).json()["items"]
    assert [e["seq"] for e in items] == list(range(1, len(items) + 1))
    assert sum(e["action"] == "project.create" for e in items) == THREADS
    assert verify["checked"] == len(items)


def test_concurrent_creates_of_one_name_one_wins_the_others_conflict(server):
    h, cust = setup_customer(server)
    responses = at_once(
        THREADS,
        lambda c, i: c.post("/v1/projects", json={"org_id": cust, "name": "contested"}, headers=h),
        server,
    )
    no_500(responses)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (THREADS - 1), codes
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{server}/v1/audit/verify", headers=h).json()["ok"]


def test_concurrent_logins_and_failures_are_all_recorded(server):
    h, _ = setup_customer(server)

    def attempt(c: httpx.Client, i: int) -> httpx.Response:
        password = ADMIN_PASSWORD if i % 2 else "wrong-password-x"
        return c.post("/v1/auth/login", json={"username": "admin", "password": password})

    responses = at_once(8, attempt, server)
    no_500(responses)
    assert sorted(r.status_code for r in responses) == [201] * 4 + [401] * 4
    items = httpx.get(f"{server}/v1/audit/events?action=auth.login&limit=1000", headers=h).json()["items"]
    assert sum(e["result"] == "failure" for e in items) == 4
    assert httpx.get(f"{server}/v1/audit/verify", headers=h).json()["ok"]


def test_parallel_wrong_passwords_still_lock_the_account(server, rt):
    """The failure counter is not a lost update: a burst of guesses locks the account like a sequence."""
    setup_customer(server)
    n = rt.settings.login_max_failures * 2
    responses = at_once(
        n,
        lambda c, i: c.post("/v1/auth/login", json={"username": "admin", "password": f"guess-{i}-xxxxxx"}),
        server,
    )
    no_500(responses)
    assert {r.status_code for r in responses} == {401}
    r = httpx.post(f"{server}/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 401, "the account should be locked after a burst of failures"
