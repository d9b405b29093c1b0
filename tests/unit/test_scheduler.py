"""Scheduler filters and weighers, the state machine and IPAM: pure functions."""

from __future__ import annotations

import pytest

from hexagone.compute import ipam, states
from hexagone.compute.scheduler import HostView, Request, filter_hosts, place
from hexagone.errors import Conflict, NoValidHost

pytestmark = pytest.mark.unit


def host(i: int, **kw) -> HostView:
    base = dict(
        id=f"h{i}",
        region_id="r1",
        zone_id="z1",
        country="FR",
        status="up",
        vcpus=4,
        ram_mb=8192,
        disk_gb=100,
        vcpus_used=0,
        ram_mb_used=0,
        disk_gb_used=0,
        cpu_ratio=1.0,
        ram_ratio=1.0,
        disk_ratio=1.0,
        capabilities={"accel": "tcg"},
    )
    base.update(kw)
    return HostView(**base)


def req(**kw) -> Request:
    base = dict(vcpus=1, ram_mb=1024, disk_gb=10, region_id="r1")
    base.update(kw)
    return Request(**base)


def test_capacity_and_overcommit():
    full = host(1, vcpus_used=4)
    assert filter_hosts([full, host(2)], req()) == [host(2)]
    assert filter_hosts([host(3, vcpus_used=4, cpu_ratio=2.0)], req())  # overcommit 2x leaves room


def test_no_valid_host_names_the_filters():
    with pytest.raises(NoValidHost) as err:
        filter_hosts([host(1, status="down"), host(2, region_id="r2"), host(3, ram_mb_used=8192)], req())
    msg = err.value.message
    assert "status rejected 1" in msg and "region_zone rejected 1" in msg and "capacity rejected 1" in msg


def test_residency_filters_by_country_and_region():
    with pytest.raises(NoValidHost, match="residency"):
        filter_hosts([host(1)], req(allowed_countries=frozenset({"DE"})))
    assert filter_hosts([host(1)], req(allowed_countries=frozenset({"FR"})))
    with pytest.raises(NoValidHost, match="residency"):
        filter_hosts([host(1)], req(allowed_regions=frozenset({"paris"}), region_name="lyon"))


def test_capabilities_and_affinity():
    assert filter_hosts(
        [host(1), host(2, capabilities={"accel": "kvm"})], req(required_capabilities={"accel": "kvm"})
    ) == [host(2, capabilities={"accel": "kvm"})]
    assert [h.id for h in filter_hosts([host(1), host(2)], req(avoid_hosts=frozenset({"h1"})))] == ["h2"]
    assert [h.id for h in filter_hosts([host(1), host(2)], req(same_hosts=frozenset({"h2"})))] == ["h2"]


def test_spread_and_pack():
    hosts = [host(1, ram_mb_used=4096), host(2), host(3, ram_mb_used=6000)]
    assert [h.id for h in place(hosts, req(), "spread")] == ["h2", "h1", "h3"]
    assert [h.id for h in place(hosts, req(), "pack")] == ["h3", "h1", "h2"]
    many = [host(i, ram_mb_used=i) for i in range(100)]
    assert [h.id for h in place(many, req(), "spread", limit=3)] == ["h0", "h1", "h2"]


def test_state_table():
    assert states.apply_action(states.RUNNING, "reboot") == states.REBOOTING
    assert states.apply_action(states.RUNNING, "delete") == states.DELETING
    with pytest.raises(Conflict, match="Cannot start an instance that is DELETING"):
        states.apply_action(states.DELETING, "start")
    assert states.apply_observation(states.BUILDING, "RUNNING", "running") == states.RUNNING
    assert states.apply_observation(states.RUNNING, "STOPPED", "stopped") == states.STOPPED
    assert states.apply_observation(states.DELETING, "MISSING", "deleted") == states.DELETING  # maybe stale
    assert states.apply_observation(states.DELETING, "MISSING", "deleted", destroyed=True) == states.DELETED
    assert states.apply_observation(states.RUNNING, "CRASHED", "running") == states.ERROR
    assert states.shown_state(states.RUNNING, host_up=False) == states.UNKNOWN
    assert states.shown_state(states.DELETING, host_up=False) == states.DELETING


def test_ipam():
    assert ipam.next_free("10.200.0.0/24", ["10.200.0.10", None]) == "10.200.0.11"
    assert ipam.next_free("10.200.0.0/30", []) is None
    assert ipam.mac_for("abc") == ipam.mac_for("abc") and ipam.mac_for("abc").startswith("52:54:00:")
