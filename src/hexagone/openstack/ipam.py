"""Subnet address planning for project network records, as Neutron does it. Pure: no database.

``plan_subnet`` validates a subnet request (CIDR, IP version, gateway, allocation pools) and
computes what Neutron would store: the default gateway is the first host address, the default
pools are every usable address except the gateway (IPv4 loses the network and broadcast
addresses, IPv6 only the subnet-router anycast address). ``overlapping`` finds the subnet of a
network a new CIDR collides with.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hexagone.errors import InvalidInput

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
UNSET: Any = object()  # "not given" (a null gateway means "no gateway")


@dataclass(frozen=True)
class SubnetPlan:
    cidr: str
    ip_version: int
    gateway_ip: str | None
    allocation_pools: list[dict[str, str]]


def parse_cidr(cidr: Any, ip_version: Any = None) -> Net:
    """A CIDR in canonical form (``10.0.0.0/24``, not ``10.0.0.5/24``) of the requested version."""
    if not isinstance(cidr, str) or not cidr.strip():
        raise InvalidInput("Invalid input for cidr: give a network such as 10.0.0.0/24.")
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError as exc:
        raise InvalidInput(f"Invalid input for cidr: '{cidr[:64]}' is not a valid CIDR.") from exc
    if str(net) != cidr.strip():
        raise InvalidInput(f"Invalid input for cidr: '{cidr[:64]}' isn't a recommended CIDR, use {net} instead.")
    if ip_version is not None and ip_version != net.version:
        raise InvalidInput(f"Invalid input: cidr '{net}' does not match ip_version {ip_version}.")
    return net


def _address(value: Any, what: str, net: Net) -> int:
    """An address of ``net``'s version, as an integer (comparisons stay within one version)."""
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError as exc:
        raise InvalidInput(f"Invalid input for {what}: '{str(value)[:64]}' is not an IP address.") from exc
    if addr.version != net.version:
        raise InvalidInput(f"Invalid input for {what}: {addr} is not an IPv{net.version} address.")
    return int(addr)


def _text(n: int, version: int) -> str:
    return str(ipaddress.IPv4Address(n) if version == 4 else ipaddress.IPv6Address(n))


def _usable(net: Net) -> tuple[int, int] | None:
    """First and last assignable addresses (Neutron's rule), None when there are none (IPv4 /31)."""
    low, high = int(net.network_address), int(net.broadcast_address)
    if low == high:
        return low, high
    first, last = low + 1, high - (1 if net.version == 4 else 0)
    return (first, last) if first < last else None


def _pools(ranges: list[tuple[int, int]], version: int) -> list[dict[str, str]]:
    return [{"start": _text(a, version), "end": _text(b, version)} for a, b in ranges]


def default_pools(net: Net, gateway: int | None) -> list[dict[str, str]]:
    """Every usable address of ``net`` except the gateway, as inclusive ranges."""
    usable = _usable(net)
    if usable is None:
        return []
    first, last = usable
    ranges = [(first, last)]
    if gateway is not None and first <= gateway <= last:
        ranges = [(a, b) for a, b in ((first, gateway - 1), (gateway + 1, last)) if a <= b]
    return _pools(ranges, net.version)


def plan_subnet(
    cidr: Any, ip_version: Any, gateway_ip: Any = UNSET, allocation_pools: Any = None
) -> SubnetPlan:
    """Validate a subnet request and fill in Neutron's defaults (InvalidInput on any mistake)."""
    if ip_version not in (4, 6) or isinstance(ip_version, bool):
        raise InvalidInput("Invalid input for ip_version: 4 or 6.")
    net = parse_cidr(cidr, ip_version)
    usable = _usable(net)
    gateway: int | None
    if gateway_ip is UNSET or gateway_ip == "":
        gateway = usable[0] if usable else None
    elif gateway_ip is None:
        gateway = None
    else:
        gateway = _address(gateway_ip, "gateway_ip", net)
        if usable is None or not usable[0] <= gateway <= usable[1]:
            raise InvalidInput(
                f"Gateway is not valid on subnet: {_text(gateway, net.version)} is not a host address of {net}."
            )
    if allocation_pools in (None, []):
        pools = default_pools(net, gateway)
    else:
        pools = _checked_pools(net, gateway, allocation_pools)
    return SubnetPlan(str(net), net.version, _text(gateway, net.version) if gateway is not None else None, pools)


def _checked_pools(net: Net, gateway: int | None, pools: Any) -> list[dict[str, str]]:
    if not isinstance(pools, list) or len(pools) > 64:
        raise InvalidInput("Invalid input for allocation_pools: a list of {'start': ..., 'end': ...}.")
    usable = _usable(net)
    v = net.version
    ranges: list[tuple[int, int]] = []
    for pool in pools:
        if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
            raise InvalidInput("Invalid input for allocation_pools: each pool is {'start': ..., 'end': ...}.")
        start = _address(pool["start"], "allocation_pools", net)
        end = _address(pool["end"], "allocation_pools", net)
        shown = f"{_text(start, v)}-{_text(end, v)}"
        if start > end:
            raise InvalidInput(f"Invalid input for allocation_pools: {shown} starts after it ends.")
        if usable is None or start < usable[0] or end > usable[1]:
            raise InvalidInput(f"The allocation pool {shown} spans beyond the subnet cidr {net}.")
        if gateway is not None and start <= gateway <= end:
            raise InvalidInput(f"Gateway ip {_text(gateway, v)} conflicts with allocation pool {shown}.")
        ranges.append((start, end))
    ranges.sort()
    for (_, prev_end), (start, end) in zip(ranges, ranges[1:], strict=False):
        if start <= prev_end:
            raise InvalidInput(
                f"Found overlapping allocation pools: {_text(start, v)}-{_text(end, v)} overlaps another pool."
            )
    return _pools(ranges, v)


def overlapping(cidr: str, existing: Iterable[str]) -> str | None:
    """The first of ``existing`` that ``cidr`` overlaps, or None."""
    net = ipaddress.ip_network(cidr)
    for other in existing:
        other_net = ipaddress.ip_network(other)
        if other_net.version == net.version and net.overlaps(other_net):
            return other
    return None


def normalised_ip(value: Any, version: int, field: str) -> str:
    """A valid address of that version in its compressed form (``0000::babe:220.12.22.2`` →
    ``::babe:dc0c:1602``)."""
    wrong = f"Invalid input for field/attribute {field}: '{str(value)[:64]}' is not an IPv{version} address."
    if not isinstance(value, str):
        raise InvalidInput(wrong)
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError as exc:
        raise InvalidInput(wrong) from exc
    if addr.version != version:
        raise InvalidInput(wrong)
    return str(addr)


def normalised_access_ip(value: Any, version: int) -> str | None:
    """Nova's ``accessIPv4``/``accessIPv6``: "" or None clears it; otherwise normalised."""
    if value is None or value == "":
        return None
    return normalised_ip(value, version, f"accessIPv{version}")
