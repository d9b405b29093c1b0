"""One failure, one log record; the keep-alive connection survives a 5xx; the request id is on
every log line of its request, in text and JSON (issue 20, item 4). A real uvicorn server."""

from __future__ import annotations

import http.client
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from hexagone import logs
from hexagone.api.routes import meta
from tests.integration.outage_helpers import database_lost
from tests.live import live_server

pytestmark = pytest.mark.integration


@contextmanager
def captured(json_lines: bool) -> Iterator[tuple[io.StringIO, logs.RegionHandler]]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    handler = logs.configure("INFO", json_lines=json_lines, stream=stream)
    try:
        yield stream, handler
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def broken_health(monkeypatch: Any) -> None:
    """Health hits a bug (after logging one line from the worker thread that runs the handler)."""

    def boom(path: Any) -> Any:
        logging.getLogger("hexagone.probe").warning("checking the disk")
        raise RuntimeError("a bug")

    monkeypatch.setattr(meta.shutil, "disk_usage", boom)


def test_keep_alive_connection_survives_a_500_and_a_503(rt, monkeypatch):
    with live_server(rt) as url:
        u = urlparse(url)
        conn = http.client.HTTPConnection(u.hostname or "", u.port)
        conn.request("GET", "/v1/health")
        first = conn.getresponse()
        assert first.status == 200 and first.read()
        sock = conn.sock

        with monkeypatch.context() as m:
            broken_health(m)
            conn.request("GET", "/v1/health")
            r = conn.getresponse()
            assert r.status == 500 and json.loads(r.read())["type"].endswith("/internal")
        with database_lost(rt):
            conn.request("POST", "/v1/auth/login", body=json.dumps({"username": "admin", "password": "x" * 12}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 503 and r.getheader("Retry-After") and r.read()

        conn.request("GET", "/v1/health")  # same connection, no ECONNRESET
        again = conn.getresponse()
        assert again.status == 200 and again.read()
        assert conn.sock is sock
        conn.close()


@pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
def test_one_record_per_failure_repeats_aggregated_request_id_on_every_line(rt, monkeypatch, json_lines):
    with captured(json_lines) as (stream, handler):
        with live_server(rt) as url, httpx.Client(base_url=url) as c:
            broken_health(monkeypatch)
            r = c.get("/v1/health", headers={"X-Request-Id": "trace-me-1"})
            assert r.status_code == 500 and r.json()["request_id"] == "trace-me-1"
            for _ in range(20):
                assert c.get("/v1/health").status_code == 500
        handler.flush_repeats()
    text = stream.getvalue()
    assert text.count("Traceback (most recent call last)") == 1, text
    assert text.count("RuntimeError: a bug") == 1
    if json_lines:
        records = [json.loads(line) for line in text.splitlines()]
        mine = [rec for rec in records if rec.get("request_id") == "trace-me-1"]
        messages = [rec["message"] for rec in records]
    else:
        records = [line for line in text.splitlines() if line[:4].isdigit()]  # one per record
        mine = [line for line in records if "request_id=trace-me-1" in line]
        messages = records
    assert len(mine) == 2, text  # the handler's line (worker thread) and the error record
    assert any("20 more like this in 10 s" in m and "checking the disk" in m for m in messages), text
    assert any("20 more like this in 10 s" in m and "unexpected error" in m for m in messages), text
    assert len(records) <= 6, text  # 21 failed requests: 2 records + 2 summaries (+ server lines)
