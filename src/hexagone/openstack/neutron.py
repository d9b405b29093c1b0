"""Neutron v2.0 (``/networking``): what exists today, read-only. Each region has one default
network (id derived from the region id) with one subnet (the host network, 10.200.0.0/24); ports
are the NICs of the token project's servers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select

from hexagone.api.deps import UC
from hexagone.api.routing import PUBLIC, endpoint
from hexagone.compute import instances
from hexagone.db.models import Zone
from hexagone.errors import NotFound
from hexagone.openstack import scope, views
from hexagone.openstack.catalog import base_url, network_names, regions
from hexagone.openstack.routing import NeutronRoute, new_router
from hexagone.usecase import UseCase

router = new_router("/networking", "openstack-network", NeutronRoute)
CONTROL = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}


def _versions(request: Request) -> dict[str, Any]:
    href = f"{base_url(request)}/networking/v2.0/"
    return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}]}


@endpoint(router, "GET", "", permission=PUBLIC)
def versions(request: Request) -> dict[str, Any]:
    return _versions(request)


@endpoint(router, "GET", "/", permission=PUBLIC)
def versions_slash(request: Request) -> dict[str, Any]:
    return _versions(request)


@endpoint(router, "GET", "/v2.0", permission=PUBLIC)
def resources(request: Request) -> dict[str, Any]:
    base = f"{base_url(request)}/networking/v2.0"
    return {
        "resources": [
            {"name": n, "collection": f"{n}s", "links": [{"rel": "self", "href": f"{base}/{n}s"}]}
            for n in ("network", "subnet", "port")
        ]
    }


@endpoint(router, "GET", "/v2.0/extensions", permission=PUBLIC)
def extensions() -> dict[str, Any]:
    return {"extensions": []}


def _filtered(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """Neutron filters: any attribute, repeated for OR (``?id=a&id=b``); ``fields`` selects keys."""
    q = request.query_params
    for key in {k for k in q if k not in CONTROL}:
        wanted = set(q.getlist(key))
        items = [i for i in items if key in i and _text(i[key]) in wanted]
    fields = q.getlist("fields")
    if fields:
        items = [{k: v for k, v in i.items() if k in fields} for i in items]
    return items


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _networks(uc: UseCase) -> list[tuple[str, str, Any]]:
    names = network_names(uc)
    return [(r.id, names[r.id], r.created_at) for r in regions(uc)]


def _one(items: list[dict[str, Any]], item_id: str, what: str) -> dict[str, Any]:
    for item in items:
        if item["id"] == item_id:
            return item
    raise NotFound(f"{what} {item_id[:64]} could not be found.")


@endpoint(router, "GET", "/v2.0/networks", permission="region.read")
def list_networks(uc: UC, request: Request) -> dict[str, Any]:
    return {"networks": _filtered([views.network(*n) for n in _networks(uc)], request)}


@endpoint(router, "GET", "/v2.0/networks/{network_id}", permission="region.read")
def get_network(network_id: str, uc: UC) -> dict[str, Any]:
    return {"network": _one([views.network(*n) for n in _networks(uc)], network_id, "Network")}


@endpoint(router, "GET", "/v2.0/subnets", permission="region.read")
def list_subnets(uc: UC, request: Request) -> dict[str, Any]:
    return {"subnets": _filtered([views.subnet(*n) for n in _networks(uc)], request)}


@endpoint(router, "GET", "/v2.0/subnets/{subnet_id}", permission="region.read")
def get_subnet(subnet_id: str, uc: UC) -> dict[str, Any]:
    return {"subnet": _one([views.subnet(*n) for n in _networks(uc)], subnet_id, "Subnet")}


def _ports(uc: UseCase) -> list[dict[str, Any]]:
    pid = scope.project_id(uc)
    zones = {z.id: z.name for z in uc.session.execute(select(Zone)).scalars()}
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        batch, cursor = instances.list_instances(uc, 1000, cursor, {"project_id": pid})
        out.extend(views.port(i, zones.get(i.zone_id or "", "nova")) for i in batch)
        if cursor is None:
            return out


@endpoint(router, "GET", "/v2.0/ports", permission="compute.read")
def list_ports(uc: UC, request: Request) -> dict[str, Any]:
    return {"ports": _filtered(_ports(uc), request)}


@endpoint(router, "GET", "/v2.0/ports/{port_id}", permission="compute.read")
def get_port(port_id: str, uc: UC) -> dict[str, Any]:
    return {"port": _one(_ports(uc), port_id, "Port")}
