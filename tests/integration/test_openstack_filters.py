"""Nova's ``name`` and ``ip`` list filters: regular expressions as in Nova, in linear time, bounded.

A backtracking engine took seconds (minutes at 40 characters) on ``(a+)+$`` against a server named
``aaaa…!``, and held the interpreter lock meanwhile, so every other request of the worker waited.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hexagone.bootstrap import Runtime, ensure_catalogue
from tests.helpers import Api
from tests.integration.compute_helpers import fake_host
from tests.integration.test_openstack_api import Customer, create_server, customer, h

pytestmark = pytest.mark.integration

EVIL_NAME = "a" * 24 + "!"  # Python's re: about 9 s for (a+)+$ on this name, doubling per extra "a"
EVIL = "(a%2B)%2B%24"  # (a+)+$


@pytest.fixture
def acme(api: Api, rt: Runtime, tmp_path: Path) -> Customer:
    ensure_catalogue(rt, None)
    fake_host(rt, "host-1", capabilities={"accel": "fake", "network_cidr": "10.200.0.0/24"})
    return customer(api, api.admin(), tmp_path, "acme")


def names(client: TestClient, c: Customer, query: str) -> list[str]:
    r = client.get(f"/compute/v2.1/servers?{query}", headers=h(c.token))
    assert r.status_code == 200, r.text
    return sorted(s["name"] for s in r.json()["servers"])


def test_name_filter_is_a_regular_expression_search_as_in_nova(
    acme: Customer, client: TestClient
) -> None:
    for n in ("web-1", "web-2", "old-web", "db"):
        create_server(client, acme, n)
    assert names(client, acme, "name=web") == ["old-web", "web-1", "web-2"]
    assert names(client, acme, "name=%5Eweb-%5Cd%24") == ["web-1", "web-2"]  # ^web-\d$
    assert names(client, acme, "name=(%3Fi)DB") == ["db"]
    # what RE2 cannot run (a backreference, an unbalanced bracket) is matched as plain text
    assert names(client, acme, "name=(w)%5C1") == []
    assert names(client, acme, "name=web-%5B") == []


def test_a_catastrophic_pattern_answers_at_once_and_delays_no_one(
    acme: Customer, client: TestClient
) -> None:
    create_server(client, acme, EVIL_NAME)
    started = time.perf_counter()
    names(client, acme, "name=zzz")
    baseline = time.perf_counter() - started

    timings: dict[str, float] = {}

    def hostile() -> None:
        t = time.perf_counter()
        timings["listed"] = len(names(client, acme, f"name={EVIL}"))
        timings["hostile"] = time.perf_counter() - t

    worker = threading.Thread(target=hostile)
    worker.start()
    t = time.perf_counter()
    assert client.get("/v1/health").status_code == 200
    timings["health"] = time.perf_counter() - t
    worker.join(timeout=120)
    assert not worker.is_alive(), "the hostile list never finished"
    assert timings["listed"] == 0
    # measured against an ordinary list on the same machine: generous for a busy 2-core box,
    # far below what backtracking takes (seconds, doubling with each extra character)
    bound = max(1.5, 20 * baseline)
    assert timings["hostile"] < bound, timings
    assert timings["health"] < bound, timings
    assert names(client, acme, "ip=10%5C.200%5C.") == [EVIL_NAME]
    r = client.get(f"/compute/v2.1/servers?ip=(1%2B)%2B%24{'1' * 30}", headers=h(acme.token))
    assert r.status_code == 200, r.text


def test_overlong_filters_are_400_not_truncated(acme: Customer, client: TestClient) -> None:
    for query in ("name=" + "a" * 256, "ip=" + "1" * 65):
        for path in ("/compute/v2.1/servers", "/compute/v2.1/servers/detail"):
            r = client.get(f"{path}?{query}", headers=h(acme.token))
            assert r.status_code == 400, r.text
            assert "characters" in r.json()["badRequest"]["message"]
