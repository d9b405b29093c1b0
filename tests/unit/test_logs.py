"""Log aggregation and request ids, with an injected clock (issue 20, item 4)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from hexagone import logs

pytestmark = pytest.mark.unit


def _logger(json_lines: bool = False) -> tuple[logging.Logger, logs.RegionHandler, io.StringIO, list[float]]:
    stream, now = io.StringIO(), [0.0]
    handler = logs.RegionHandler(stream, monotonic=lambda: now[0])
    handler.setFormatter(logs.JsonFormatter() if json_lines else logs.TextFormatter())
    log = logging.getLogger(f"hexagone.test.{id(stream)}")
    log.handlers[:], log.propagate, log.level = [handler], False, logging.INFO
    return log, handler, stream, now


def test_repeats_within_the_window_become_one_summary_line():
    log, handler, stream, now = _logger()
    for i in range(50):
        log.warning("POST %s: database unavailable", f"/v1/instances/{i}")
    for _ in range(3):
        log.warning("%s", "The control plane answered 503; retrying.")
    log.warning("%s", "another message")  # alike only when the text itself is alike
    now[0] = 10.5
    log.warning("POST %s: database unavailable", "/v1/instances/x")  # a new window
    handler.flush_repeats()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6, lines
    assert "49 more like this in 10 s: POST /v1/instances/0: database unavailable" in lines[3]
    assert "2 more like this in 10 s: The control plane answered 503" in lines[4]
    assert lines[5].endswith("POST /v1/instances/x: database unavailable")


def test_info_is_never_aggregated_and_the_request_id_is_on_every_record():
    log, _, stream, _ = _logger()
    token = logs.request_id.set("req-abc")
    try:
        log.info("step one")
        log.info("step one")
    finally:
        logs.request_id.reset(token)
    log.info("outside any request")
    lines = stream.getvalue().splitlines()
    assert [line.endswith("request_id=req-abc") for line in lines] == [True, True, False]


def test_json_lines_carry_the_request_id():
    log, _, stream, _ = _logger(json_lines=True)
    token = logs.request_id.set("req-json")
    try:
        log.error("boom")
    finally:
        logs.request_id.reset(token)
    assert json.loads(stream.getvalue())["request_id"] == "req-json"
