"""Project network records behind Neutron ``/v2.0/networks`` and ``/v2.0/subnets``.

A project's networks and subnets are *records* (name, admin state, subnets with CIDR, gateway and
allocation pools); attaching instances to them arrives with the networking work, and until then
a server create naming one is refused (400). They belong to the project of the token's scope:
another project's network answers 404 exactly like a missing one. Policy: the compute
permissions on the project (read, create, update, delete), as for its servers. Every change is
audited. Limits, as Neutron's default quotas: 100 networks and 100 subnets per project (409
OverQuota, as Neutron).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hexagone.authz.policy import Target
from hexagone.db.network_models import Network, Subnet
from hexagone.errors import Conflict, Forbidden, InvalidInput, NotFound
from hexagone.identity.orgs import load_project, load_region, project_target
from hexagone.ids import is_id, new_id
from hexagone.openstack import ipam
from hexagone.usecase import UseCase

MAX_NETWORKS = 100
MAX_SUBNETS = 100
NETWORK_CREATE = {"name", "description", "admin_state_up", "shared", "tenant_id", "project_id"}
NETWORK_UPDATE = {"name", "description", "admin_state_up", "shared"}
SUBNET_CREATE = {
    "network_id", "cidr", "ip_version", "name", "description", "gateway_ip", "allocation_pools",
    "enable_dhcp", "dns_nameservers", "host_routes", "tenant_id", "project_id",
    "ipv6_ra_mode", "ipv6_address_mode",
}
SUBNET_UPDATE = {"name", "description", "gateway_ip", "enable_dhcp", "dns_nameservers", "host_routes"}


def target(row: Network | Subnet, org_path: str) -> Target:
    return Target(org_path=org_path, project_id=row.project_id)


def _unknown(spec: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(spec) - allowed)
    if extra:
        raise InvalidInput(f"Unrecognized attribute(s) '{', '.join(k[:40] for k in extra[:5])}'.")


def _text(spec: dict[str, Any], key: str, limit: int = 255) -> str:
    value = spec.get(key) or ""
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"Invalid input for {key}: a string of at most {limit} characters.")
    return value


def _bool(spec: dict[str, Any], key: str, default: bool) -> bool:
    value = spec.get(key, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not isinstance(value, bool):
        raise InvalidInput(f"Invalid input for {key}: true or false.")
    return value


def _owner(spec: dict[str, Any], project_id: str) -> None:
    for key in ("tenant_id", "project_id"):
        if key in spec and spec[key] not in (None, project_id):
            raise Forbidden(f"Only an administrator may create a resource for another project ({key}).")


def _not_shared(spec: dict[str, Any]) -> None:
    if _bool(spec, "shared", False):
        raise Forbidden("Shared networks are not available: a project network is private to its project.")


# --- networks --------------------------------------------------------------------------------------


def list_networks(uc: UseCase, project_id: str) -> list[Network]:
    uc.authorize(project_target(load_project(uc, project_id)), "compute.read", what="project")
    stmt = select(Network).where(Network.project_id == project_id).order_by(Network.created_at, Network.id)
    return list(uc.session.execute(stmt).scalars())


def load_network(uc: UseCase, project_id: str, network_id: str, permission: str = "compute.read") -> Network:
    """A network of the project (404 ``NetworkNotFound`` for another project's or a missing one)."""
    net = uc.session.get(Network, network_id) if is_id(network_id) else None
    if net is None or net.project_id != project_id:
        raise NotFound(f"Network {network_id[:64]} could not be found.")
    uc.authorize(target(net, net.org_path), permission, what="network")
    return net


def create_network(uc: UseCase, project_id: str, spec: dict[str, Any]) -> Network:
    project = load_project(uc, project_id)
    uc.authorize(project_target(project), "compute.create", what="project")
    _unknown(spec, NETWORK_CREATE)
    _owner(spec, project.id)
    _not_shared(spec)
    count = uc.session.execute(select(func.count()).where(Network.project_id == project.id)).scalar_one()
    if count >= MAX_NETWORKS:
        raise Conflict(f"Quota exceeded for resources: ['network'] (at most {MAX_NETWORKS} per project).")
    region = load_region(uc, uc.settings.region)
    net = Network(
        id=new_id(), project_id=project.id, org_id=project.org_id, org_path=project.org_path,
        region_id=region.id, name=_text(spec, "name"), description=_text(spec, "description"),
        admin_state_up=_bool(spec, "admin_state_up", True), mtu=1500, revision=1,
        created_at=uc.now, updated_at=uc.now,
    )
    uc.session.add(net)
    uc.session.flush()
    uc.audit("network.create", "network", net.id, project.org_id, project.org_path, details={"name": net.name})
    return net


def update_network(uc: UseCase, project_id: str, network_id: str, spec: dict[str, Any]) -> Network:
    net = load_network(uc, project_id, network_id, "compute.update")
    _unknown(spec, NETWORK_UPDATE)
    _not_shared(spec)
    if "name" in spec:
        net.name = _text(spec, "name")
    if "description" in spec:
        net.description = _text(spec, "description")
    if "admin_state_up" in spec:
        net.admin_state_up = _bool(spec, "admin_state_up", True)
    net.revision += 1
    net.updated_at = uc.now
    uc.audit("network.update", "network", net.id, net.org_id, net.org_path, details={"fields": sorted(spec)})
    return net


def delete_network(uc: UseCase, project_id: str, network_id: str) -> None:
    """Delete a network and its subnets (no ports can be on a network record yet)."""
    net = load_network(uc, project_id, network_id, "compute.delete")
    for sub in subnets_of(uc, [net.id]):
        uc.session.delete(sub)
    uc.session.flush()  # the subnets first: no relationship tells the unit of work the order
    uc.session.delete(net)
    uc.audit("network.delete", "network", net.id, net.org_id, net.org_path, details={"name": net.name})


# --- subnets ---------------------------------------------------------------------------------------


def subnets_of(uc: UseCase, network_ids: list[str]) -> list[Subnet]:
    if not network_ids:
        return []
    stmt = select(Subnet).where(Subnet.network_id.in_(network_ids)).order_by(Subnet.created_at, Subnet.id)
    return list(uc.session.execute(stmt).scalars())


def list_subnets(uc: UseCase, project_id: str) -> list[Subnet]:
    return subnets_of(uc, [n.id for n in list_networks(uc, project_id)])


def load_subnet(uc: UseCase, project_id: str, subnet_id: str, permission: str = "compute.read") -> Subnet:
    sub = uc.session.get(Subnet, subnet_id) if is_id(subnet_id) else None
    if sub is None or sub.project_id != project_id:
        raise NotFound(f"Subnet {subnet_id[:64]} could not be found.")
    load_network(uc, project_id, sub.network_id, permission)
    return sub


def _dns(spec: dict[str, Any], version: int) -> list[str]:
    servers = spec.get("dns_nameservers") or []
    if not isinstance(servers, list) or len(servers) > 5:
        raise InvalidInput("Invalid input for dns_nameservers: a list of at most 5 addresses.")
    out = [ipam.normalised_ip(s, version, "dns_nameservers") for s in servers]
    if len(set(out)) != len(out):
        raise InvalidInput("Invalid input for dns_nameservers: duplicate addresses.")
    return out


def _routes(spec: dict[str, Any], version: int) -> list[dict[str, str]]:
    routes = spec.get("host_routes") or []
    if not isinstance(routes, list) or len(routes) > 20:
        raise InvalidInput("Invalid input for host_routes: a list of at most 20 routes.")
    out = []
    for r in routes:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise InvalidInput("Invalid input for host_routes: each is {'destination': ..., 'nexthop': ...}.")
        dest = ipam.parse_cidr(r["destination"], version)
        hop = ipam.normalised_ip(r["nexthop"], version, "host_routes")
        out.append({"destination": str(dest), "nexthop": hop})
    return out


def create_subnet(uc: UseCase, project_id: str, spec: dict[str, Any]) -> Subnet:
    _unknown(spec, SUBNET_CREATE)
    network_id = spec.get("network_id")
    if not isinstance(network_id, str) or not network_id:
        raise InvalidInput("Invalid input for network_id: the id of one of your networks.")
    net = load_network(uc, project_id, network_id, "compute.create")
    _owner(spec, net.project_id)
    if spec.get("ipv6_ra_mode") or spec.get("ipv6_address_mode"):
        raise InvalidInput("ipv6_ra_mode and ipv6_address_mode are not supported on network records.")
    if "cidr" not in spec:
        raise InvalidInput("Invalid input: a subnet needs a cidr (subnet pools are not supported).")
    version = spec.get("ip_version", 4)
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    plan = ipam.plan_subnet(
        spec["cidr"], version, spec.get("gateway_ip", ipam.UNSET),
        spec.get("allocation_pools"),
    )
    existing = subnets_of(uc, [net.id])
    clash = ipam.overlapping(plan.cidr, [s.cidr for s in existing])
    if clash is not None:
        raise InvalidInput(
            f"Invalid input for operation: Requested subnet with cidr: {plan.cidr} for network: {net.id} "
            f"overlaps with another subnet ({clash})."
        )
    count = uc.session.execute(select(func.count()).where(Subnet.project_id == net.project_id)).scalar_one()
    if count >= MAX_SUBNETS:
        raise Conflict(f"Quota exceeded for resources: ['subnet'] (at most {MAX_SUBNETS} per project).")
    sub = Subnet(
        id=new_id(), network_id=net.id, project_id=net.project_id, name=_text(spec, "name"),
        description=_text(spec, "description"), ip_version=plan.ip_version, cidr=plan.cidr,
        gateway_ip=plan.gateway_ip, enable_dhcp=_bool(spec, "enable_dhcp", True),
        allocation_pools=plan.allocation_pools, dns_nameservers=_dns(spec, plan.ip_version),
        host_routes=_routes(spec, plan.ip_version), revision=1, created_at=uc.now, updated_at=uc.now,
    )
    uc.session.add(sub)
    net.revision += 1
    net.updated_at = uc.now
    uc.session.flush()
    uc.audit("subnet.create", "subnet", sub.id, net.org_id, net.org_path,
             details={"network": net.id, "cidr": sub.cidr})
    return sub


def update_subnet(uc: UseCase, project_id: str, subnet_id: str, spec: dict[str, Any]) -> Subnet:
    sub = load_subnet(uc, project_id, subnet_id, "compute.update")
    _unknown(spec, SUBNET_UPDATE)
    if "name" in spec:
        sub.name = _text(spec, "name")
    if "description" in spec:
        sub.description = _text(spec, "description")
    if "gateway_ip" in spec:  # the pools stay; the new gateway must lie outside them (Neutron's rule)
        gateway = spec["gateway_ip"] if spec["gateway_ip"] != "" else None
        sub.gateway_ip = ipam.plan_subnet(sub.cidr, sub.ip_version, gateway, sub.allocation_pools or None).gateway_ip
    if "enable_dhcp" in spec:
        sub.enable_dhcp = _bool(spec, "enable_dhcp", True)
    if "dns_nameservers" in spec:
        sub.dns_nameservers = _dns(spec, sub.ip_version)
    if "host_routes" in spec:
        sub.host_routes = _routes(spec, sub.ip_version)
    sub.revision += 1
    sub.updated_at = uc.now
    net = load_network(uc, project_id, sub.network_id)
    uc.audit("subnet.update", "subnet", sub.id, net.org_id, net.org_path, details={"fields": sorted(spec)})
    return sub


def delete_subnet(uc: UseCase, project_id: str, subnet_id: str) -> None:
    sub = load_subnet(uc, project_id, subnet_id, "compute.delete")
    net = load_network(uc, project_id, sub.network_id, "compute.delete")
    uc.session.delete(sub)
    net.revision += 1
    net.updated_at = uc.now
    uc.audit("subnet.delete", "subnet", sub.id, net.org_id, net.org_path, details={"cidr": sub.cidr})


def network_of_project(uc: UseCase, network_id: str) -> Network | None:
    """The network record with this id, whatever its project (for a clear refusal at server create)."""
    return uc.session.get(Network, network_id) if is_id(network_id) else None
