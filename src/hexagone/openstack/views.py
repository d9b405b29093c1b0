"""Response shapes of the facade: Nova 2.1, Glance v2 and Neutron v2.0 views of Hexagone rows.

Nova shapes are exactly those of microversion 2.1 (Tempest validates them with
``additionalProperties: false``): no field from a later microversion appears.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from hexagone.compute import states
from hexagone.db.compute_models import Flavor, Image, Instance, Keypair
from hexagone.db.network_models import Network, Subnet
from hexagone.openstack.catalog import derived_id, iso, iso_seconds

STATUS = {
    states.BUILDING: "BUILD",
    states.RUNNING: "ACTIVE",
    states.STOPPED: "SHUTOFF",
    states.REBOOTING: "REBOOT",
    states.ERROR: "ERROR",
    states.DELETING: "ACTIVE",
    states.UNKNOWN: "UNKNOWN",
    states.DELETED: "DELETED",
}
VM_STATE = {
    states.BUILDING: "building",
    states.RUNNING: "active",
    states.STOPPED: "stopped",
    states.REBOOTING: "active",
    states.ERROR: "error",
    states.DELETING: "active",
    states.DELETED: "deleted",
}
POWER_STATE = {states.RUNNING: 1, states.REBOOTING: 1, states.DELETING: 1, states.STOPPED: 4}
TASK = {"starting": "powering-on", "stopping": "powering-off"}
PROGRESS_STATUSES = ("ACTIVE", "BUILD")


def status_of(state: str) -> str:
    return STATUS.get(state, "UNKNOWN")


def states_for_status(status: str) -> set[str]:
    """The Hexagone states a Nova status filter matches."""
    return {s for s, shown in STATUS.items() if shown == status.upper()}


# --- Nova ------------------------------------------------------------------------------------------


@dataclass
class ServerContext:
    """What a server view needs besides the row: URLs, names of zones and networks, host liveness."""

    base: str
    zones: dict[str, str] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)  # region id -> network name
    host_up: dict[str, bool] = field(default_factory=dict)
    access: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # id -> (v4, v6)

    def compute(self, path: str, bookmark: bool = False) -> str:
        return f"{self.base}/compute{'' if bookmark else '/v2.1'}/{path}"


def links(ctx: ServerContext, path: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": ctx.compute(path)}, {"rel": "bookmark", "href": ctx.compute(path, True)}]


def addresses(inst: Instance, ctx: ServerContext) -> dict[str, list[dict[str, Any]]]:
    if not inst.ip:
        return {}
    network = ctx.networks.get(inst.region_id, "default")
    return {
        network: [
            {"version": 4, "addr": inst.ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": inst.mac}
        ]
    }


def shown_state(inst: Instance, ctx: ServerContext) -> str:
    up = ctx.host_up.get(inst.host_id, True) if inst.host_id else True
    return states.shown_state(inst.state, up)


def server_brief(inst: Instance, ctx: ServerContext) -> dict[str, Any]:
    return {"id": inst.id, "name": inst.name, "links": links(ctx, f"servers/{inst.id}")}


def server(inst: Instance, ctx: ServerContext, detail: bool = True) -> dict[str, Any]:
    """The 2.1 server: ``detail`` for show/list detail, the plain one for the answer to an update."""
    state = shown_state(inst, ctx)
    status = status_of(state)
    out: dict[str, Any] = {
        "id": inst.id,
        "name": inst.name,
        "status": status,
        "tenant_id": inst.project_id,
        "user_id": inst.user_id,
        "metadata": dict(inst.metadata_ or {}),
        "hostId": hashlib.sha224((inst.project_id + inst.host_id).encode()).hexdigest()
        if inst.host_id
        else "",
        "image": {
            "id": inst.image_id,
            "links": [{"rel": "bookmark", "href": ctx.compute(f"images/{inst.image_id}", True)}],
        },
        "flavor": {
            "id": inst.flavor_id,
            "links": [{"rel": "bookmark", "href": ctx.compute(f"flavors/{inst.flavor_id}", True)}],
        },
        "created": iso_seconds(inst.created_at),
        "updated": iso_seconds(inst.updated_at),
        "addresses": addresses(inst, ctx),
        "accessIPv4": ctx.access.get(inst.id, (None, None))[0] or "",
        "accessIPv6": ctx.access.get(inst.id, (None, None))[1] or "",
        "links": links(ctx, f"servers/{inst.id}"),
        "OS-DCF:diskConfig": "MANUAL",
    }
    if status in PROGRESS_STATUSES:
        out["progress"] = 0
    if status == "ERROR":
        out["fault"] = {
            "code": 500,
            "created": iso_seconds(inst.updated_at),
            "message": inst.error_reason or "The instance failed.",
        }
    if not detail:
        return out
    done = {"starting": states.RUNNING, "stopping": states.STOPPED}
    task = TASK.get(inst.task or "") if inst.state != done.get(inst.task or "") else None
    if inst.state == states.DELETING:
        task = "deleting"
    elif inst.state == states.REBOOTING:
        task = "rebooting"
    elif inst.state == states.BUILDING:
        task = "spawning"
    out.update(
        {
            "key_name": inst.key_name,
            "security_groups": [{"name": "default"}],
            "OS-SRV-USG:launched_at": (iso(inst.launched_at) or "").rstrip("Z") if inst.launched_at else None,
            "OS-SRV-USG:terminated_at": None,
            "OS-EXT-AZ:availability_zone": ctx.zones.get(inst.zone_id or "", "nova"),
            "OS-EXT-STS:task_state": task,
            "OS-EXT-STS:vm_state": VM_STATE.get(inst.state, "active"),
            "OS-EXT-STS:power_state": POWER_STATE.get(inst.state, 0) if state != states.UNKNOWN else 0,
            "os-extended-volumes:volumes_attached": [],
            "config_drive": "",
        }
    )
    return out


def flavor_brief(f: Flavor, ctx: ServerContext) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "links": links(ctx, f"flavors/{f.id}")}


def flavor(f: Flavor, ctx: ServerContext) -> dict[str, Any]:
    return {
        **flavor_brief(f, ctx),
        "ram": f.ram_mb,
        "vcpus": f.vcpus,
        "disk": f.disk_gb,
        "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": bool(f.disabled),
        "os-flavor-access:is_public": bool(f.is_public),
        "rxtx_factor": 1.0,
    }


def keypair_number(k: Keypair) -> int:
    """Nova keypair ids are integers: a stable 52-bit number from the UUID."""
    return int(k.id.replace("-", "")[:13], 16)


def keypair_created(k: Keypair, md5: str, private_key: str | None) -> dict[str, Any]:
    out = {"name": k.name, "public_key": k.public_key, "fingerprint": md5, "user_id": k.user_id}
    if private_key is not None:
        out["private_key"] = private_key
    return out


def keypair_listed(k: Keypair, md5: str) -> dict[str, Any]:
    return {"keypair": {"name": k.name, "public_key": k.public_key, "fingerprint": md5}}


def keypair_shown(k: Keypair, md5: str) -> dict[str, Any]:
    return {
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": md5,
        "user_id": k.user_id,
        "deleted": False,
        "created_at": (iso(k.created_at) or "").rstrip("Z") if k.created_at else None,
        "updated_at": None,
        "deleted_at": None,
        "id": keypair_number(k),
    }


# --- Glance ----------------------------------------------------------------------------------------


def image(img: Image) -> dict[str, Any]:
    props = {
        str(k): v
        for k, v in (img.properties or {}).items()
        if k not in ("killed_reason",) and isinstance(v, str | int | float | bool)
    }
    return {
        **props,
        "id": img.id,
        "name": img.name,
        "status": img.status,
        "visibility": img.visibility,
        "protected": bool(img.protected),
        "os_hidden": False,
        "checksum": None,
        "os_hash_algo": "sha256" if img.checksum_sha256 else None,
        "os_hash_value": img.checksum_sha256,
        "container_format": img.container_format,
        "disk_format": img.disk_format,
        "size": img.size_bytes,
        "virtual_size": img.virtual_size_bytes,
        "min_disk": img.min_disk_gb,
        "min_ram": img.min_ram_mb,
        "owner": img.owner_org_id,
        "tags": [],
        "created_at": iso_seconds(img.created_at),
        "updated_at": iso_seconds(img.updated_at),
        "self": f"/v2/images/{img.id}",
        "file": f"/v2/images/{img.id}/file",
        "schema": "/v2/schemas/image",
    }


# --- Neutron ---------------------------------------------------------------------------------------

NETWORK_CIDR = "10.200.0.0/24"


def network_id(region_id: str) -> str:
    return derived_id("network", region_id)


def subnet_id(region_id: str) -> str:
    return derived_id("subnet", region_id)


def port_id(instance_id: str) -> str:
    return derived_id("port", instance_id)


def network(region_id: str, name: str, created: Any) -> dict[str, Any]:
    ts = iso_seconds(created)
    return {
        "id": network_id(region_id),
        "name": name,
        "status": "ACTIVE",
        "admin_state_up": True,
        "subnets": [subnet_id(region_id)],
        "shared": True,
        "router:external": False,
        "mtu": 1500,
        "tenant_id": "",
        "project_id": "",
        "description": "The region's default network.",
        "availability_zones": [],
        "availability_zone_hints": [],
        "port_security_enabled": False,
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        "is_default": True,
        "tags": [],
        "created_at": ts,
        "updated_at": ts,
        "revision_number": 0,
    }


def subnet(region_id: str, name: str, created: Any) -> dict[str, Any]:
    ts = iso_seconds(created)
    return {
        "id": subnet_id(region_id),
        "name": f"{name}-subnet",
        "network_id": network_id(region_id),
        "cidr": NETWORK_CIDR,
        "ip_version": 4,
        "gateway_ip": "10.200.0.1",
        "enable_dhcp": True,
        "allocation_pools": [{"start": "10.200.0.10", "end": "10.200.0.254"}],
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "tenant_id": "",
        "project_id": "",
        "description": "",
        "service_types": [],
        "tags": [],
        "created_at": ts,
        "updated_at": ts,
        "revision_number": 0,
    }


def port(inst: Instance, zone: str) -> dict[str, Any]:
    ts_c, ts_u = iso_seconds(inst.created_at), iso_seconds(inst.updated_at)
    return {
        "id": port_id(inst.id),
        "name": "",
        "network_id": network_id(inst.region_id),
        "mac_address": inst.mac,
        "admin_state_up": True,
        "status": "ACTIVE" if inst.state == states.RUNNING else "DOWN",
        "fixed_ips": [{"subnet_id": subnet_id(inst.region_id), "ip_address": inst.ip}] if inst.ip else [],
        "device_id": inst.id,
        "device_owner": f"compute:{zone}",
        "tenant_id": inst.project_id,
        "project_id": inst.project_id,
        "security_groups": [],
        "binding:vnic_type": "normal",
        "description": "",
        "tags": [],
        "created_at": ts_c,
        "updated_at": ts_u,
        "revision_number": 0,
    }


def project_network(net: Network, subnet_ids: list[str]) -> dict[str, Any]:
    """A project's network record (Neutron shape; not shared, not external)."""
    return {
        "id": net.id,
        "name": net.name,
        "status": "ACTIVE" if net.admin_state_up else "DOWN",
        "admin_state_up": bool(net.admin_state_up),
        "subnets": subnet_ids,
        "shared": False,
        "router:external": False,
        "mtu": net.mtu,
        "tenant_id": net.project_id,
        "project_id": net.project_id,
        "description": net.description,
        "availability_zones": [],
        "availability_zone_hints": [],
        "port_security_enabled": False,
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        "is_default": False,
        "tags": [],
        "created_at": iso_seconds(net.created_at),
        "updated_at": iso_seconds(net.updated_at),
        "revision_number": net.revision,
    }


def project_subnet(sub: Subnet) -> dict[str, Any]:
    return {
        "id": sub.id,
        "name": sub.name,
        "network_id": sub.network_id,
        "cidr": sub.cidr,
        "ip_version": sub.ip_version,
        "gateway_ip": sub.gateway_ip,
        "enable_dhcp": bool(sub.enable_dhcp),
        "allocation_pools": [dict(p) for p in sub.allocation_pools or []],
        "dns_nameservers": list(sub.dns_nameservers or []),
        "host_routes": [dict(r) for r in sub.host_routes or []],
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "tenant_id": sub.project_id,
        "project_id": sub.project_id,
        "description": sub.description,
        "service_types": [],
        "tags": [],
        "created_at": iso_seconds(sub.created_at),
        "updated_at": iso_seconds(sub.updated_at),
        "revision_number": sub.revision,
    }
