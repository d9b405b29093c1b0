"""The one-machine region's host network, derived from its data directory.

Two clones on one machine each run ``hexagone up``; they must never share a network namespace,
a bridge, a subnet or dnsmasq. Everything is derived from the absolute data directory::

    region id    first 8 hex digits of sha256(<absolute data dir>)
    namespace    hx-<id>                 (interface names are limited to 15 characters)
    bridge       hxbr-<id[:6]>
    subnet       10.200.<n>.0/24, n from the id (the next free one if another live region holds it)
    runtime dir  /run/hexagone/<id>/     region.json (data dir, names, pids), net-<namespace>/ (dnsmasq)

The choice is recorded in ``<data_dir>/agent/network.json`` on first start and kept afterwards
(the control plane has handed out addresses from that subnet). The runtime directory lives under
``/run`` (mode 0755), so dnsmasq, which drops to user ``nobody``, can read its files wherever the
checkout is (under ``/root``, mode 0700, included); like the namespace it is gone after a reboot.
A start whose recorded names or subnet are held by another live region is refused, naming it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hexagone.compute.drivers.hostnet import HostNetworkConfig
from hexagone.errors import PermanentError

RUNTIME_ROOT = Path("/run/hexagone")
SUPERNET = ipaddress.ip_network("10.200.0.0/16")


def namespace_exists(namespace: str) -> bool:
    return Path("/run/netns", namespace).exists()


@dataclass(frozen=True)
class RegionNetwork:
    region_id: str
    data_dir: str
    namespace: str
    bridge: str
    cidr: str  # the bridge's address with its prefix, e.g. 10.200.37.1/24
    runtime_dir: Path

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Interface(self.cidr).network

    def host_network_config(self) -> HostNetworkConfig:
        return HostNetworkConfig(namespace=self.namespace, bridge=self.bridge, address=self.cidr,
                                 runtime_dir=self.runtime_dir)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runtime_dir"] = str(self.runtime_dir)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegionNetwork:
        fields = {k: data[k] for k in ("region_id", "data_dir", "namespace", "bridge", "cidr")}
        return cls(**fields, runtime_dir=Path(data["runtime_dir"]))


def region_id(data_dir: Path) -> str:
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]


def derive(data_dir: Path, runtime_root: Path = RUNTIME_ROOT, index: int | None = None) -> RegionNetwork:
    """The names and subnet this data directory gets when nothing else holds them."""
    rid = region_id(data_dir)
    n = int(rid, 16) % 256 if index is None else index % 256
    gateway = SUPERNET.network_address + n * 256 + 1
    return RegionNetwork(region_id=rid, data_dir=str(data_dir.resolve()), namespace=f"hx-{rid}",
                         bridge=f"hxbr-{rid[:6]}", cidr=f"{gateway}/24", runtime_dir=runtime_root / rid)


def _record_file(data_dir: Path) -> Path:
    return data_dir.resolve() / "agent" / "network.json"


def recorded(data_dir: Path) -> RegionNetwork | None:
    """The network this data directory was given at its first start, if any."""
    try:
        return RegionNetwork.from_dict(json.loads(_record_file(data_dir).read_text()))
    except (OSError, ValueError, KeyError):
        return None


def runtime_record(net: RegionNetwork) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((net.runtime_dir / "region.json").read_text())
        return data
    except (OSError, ValueError):
        return {}


def update_runtime(net: RegionNetwork, **values: Any) -> None:
    """Add ``values`` (pids of the region's processes) to ``<runtime_dir>/region.json``."""
    _write_json(net.runtime_dir / "region.json", {**runtime_record(net), **net.to_dict(), **values})


def _others(runtime_root: Path, data_dir: str, live: Callable[[str], bool]) -> list[RegionNetwork]:
    found: list[RegionNetwork] = []
    if not runtime_root.is_dir():
        return found
    for path in sorted(runtime_root.glob("*/region.json")):
        try:
            other = RegionNetwork.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError):
            continue
        if other.data_dir != data_dir and Path(other.data_dir).exists() and live(other.namespace):
            found.append(other)
    return found


def _clash(net: RegionNetwork, other: RegionNetwork) -> str | None:
    if other.namespace == net.namespace:
        return f"namespace {net.namespace}"
    if other.bridge == net.bridge:
        return f"bridge {net.bridge}"
    if other.network.overlaps(net.network):
        return f"subnet {net.cidr}"
    return None


def claim(data_dir: Path, runtime_root: Path = RUNTIME_ROOT,
          live: Callable[[str], bool] = namespace_exists) -> RegionNetwork:
    """This region's network: the recorded one, else a fresh one no live region holds; recorded in
    the data directory and registered under ``runtime_root``. ``PermanentError`` names the other
    region when the recorded names or subnet are taken."""
    data_dir = data_dir.resolve()
    others = _others(runtime_root, str(data_dir), live)
    net = recorded(data_dir)
    if net is not None:
        net = RegionNetwork(**{**net.to_dict(), "runtime_dir": runtime_root / net.region_id})
        for other in others:
            what = _clash(net, other)
            if what:
                raise PermanentError(
                    f"Another one-machine region on this machine (data directory {other.data_dir}) "
                    f"uses {what}, which this region (data directory {data_dir}) was given. Stop it with "
                    f"`make down` in its checkout, or delete {_record_file(data_dir)} to give this region "
                    "another network (its instances then need new addresses)."
                )
    else:
        base = int(region_id(data_dir), 16) % 256
        for step in range(256):
            candidate = derive(data_dir, runtime_root, base + step)
            if not any(_clash(candidate, other) for other in others):
                net = candidate
                break
        else:
            raise PermanentError("Every subnet of 10.200.0.0/16 is held by another region on this machine.")
        _write_json(_record_file(data_dir), net.to_dict())
    net.runtime_dir.mkdir(parents=True, exist_ok=True)
    net.runtime_dir.chmod(0o755)
    update_runtime(net)
    return net


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
