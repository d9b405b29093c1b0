"""Address allocation on a host's default network. Pure."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable


def next_free(cidr: str, used: Iterable[str | None], first_host: int = 10) -> str | None:
    """The lowest free address from ``first_host`` up to the middle of the subnet (the bridge holds
    .1; the upper half is the host's DHCP pool for unplanned addresses), or None when full."""
    net = ipaddress.ip_network(cidr, strict=False)
    taken = {u for u in used if u}
    for offset in range(first_host, max(first_host, net.num_addresses // 2)):
        candidate = str(net.network_address + offset)
        if candidate not in taken:
            return candidate
    return None


def mac_for(instance_id: str) -> str:
    """A stable locally administered MAC in QEMU's 52:54:00 range, derived from the id."""
    digest = hashlib.sha256(instance_id.encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])
