"""Paths are resolved once where settings are read, and the one-machine region's host network is
derived from its data directory, so two regions on one machine never share a namespace, a bridge,
a subnet or a runtime directory (issue 20 item 1, issue 9 items 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hexagone.agent.main import make_driver
from hexagone.compute.drivers import regionnet
from hexagone.compute.drivers.qemu import QemuDriver
from hexagone.errors import PermanentError
from hexagone.settings import load_settings

pytestmark = pytest.mark.unit


def test_a_relative_data_dir_is_made_absolute_where_settings_are_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEXAGONE_DATA_DIR", raising=False)
    monkeypatch.delenv("HEXAGONE_CONFIG", raising=False)
    assert load_settings().data_dir == tmp_path / ".data"
    monkeypatch.setenv("HEXAGONE_DATA_DIR", "some/where")
    assert load_settings().data_dir == tmp_path / "some" / "where"
    assert load_settings(data_dir=Path("x")).data_dir == tmp_path / "x"


def test_the_agent_resolves_its_state_dir_so_daemons_never_see_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    driver = make_driver("qemu", Path(".data/agent"), "hx-test", "10.9.0.1/24", Path("run/hx"))
    assert isinstance(driver, QemuDriver) and driver.network is not None
    assert driver.state_dir.is_absolute()
    assert driver.network.run_dir.is_absolute()


def test_region_network_names_fit_interface_limits_and_differ_between_data_dirs(tmp_path):
    a = regionnet.derive(tmp_path / "a" / ".data")
    b = regionnet.derive(tmp_path / "b" / ".data")
    assert a == regionnet.derive(tmp_path / "a" / ".data")  # stable
    for net in (a, b):
        assert len(net.namespace) <= 15 and len(net.bridge) <= 15
        assert net.cidr.startswith("10.200.") and net.cidr.endswith(".1/24")
        assert net.runtime_dir == Path("/run/hexagone") / net.region_id
    assert a.namespace != b.namespace and a.bridge != b.bridge and a.region_id != b.region_id


def test_claim_records_the_network_and_refuses_a_live_region_that_holds_it(tmp_path):
    runtime_root = tmp_path / "run"
    a = regionnet.claim(tmp_path / "a", runtime_root, live=lambda ns: True)
    record = json.loads((runtime_root / a.region_id / "region.json").read_text())
    assert record["data_dir"] == str(tmp_path / "a")
    assert regionnet.claim(tmp_path / "a", runtime_root, live=lambda ns: True) == a  # same region, same net

    # A second region whose derived subnet is taken gets another one.
    b_first = regionnet.derive(tmp_path / "b", runtime_root)
    (tmp_path / "b" / "agent").mkdir(parents=True)
    (tmp_path / "b" / "agent" / "network.json").write_text(json.dumps({**b_first.to_dict(), "cidr": a.cidr}))
    with pytest.raises(PermanentError) as err:
        regionnet.claim(tmp_path / "b", runtime_root, live=lambda ns: True)
    assert str(tmp_path / "a") in err.value.message and a.cidr in err.value.message

    # A region whose data dir is gone or whose namespace is gone does not hold anything.
    (tmp_path / "b" / "agent" / "network.json").unlink()
    b = regionnet.claim(tmp_path / "b", runtime_root, live=lambda ns: True)
    assert b.cidr != a.cidr
    assert regionnet.claim(tmp_path / "c", runtime_root, live=lambda ns: False).region_id


def test_shutdown_cancellations_of_long_polls_are_not_printed_as_errors():
    import asyncio
    import logging

    from hexagone import server

    def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc else None
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, message, (), info)

    assert not server._expected_cancel(record("Cancel 1 running task(s), timeout graceful shutdown exceeded"))
    assert server._expected_cancel(record("Exception in ASGI application", asyncio.CancelledError()))  # running
    server._SHUTTING_DOWN.set()
    try:
        assert not server._expected_cancel(record("Exception in ASGI application", asyncio.CancelledError()))
        assert server._expected_cancel(record("Exception in ASGI application", ValueError("a real bug")))
    finally:
        server._SHUTTING_DOWN.clear()
