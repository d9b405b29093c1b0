"""Neutron v2.0 (``/networking``). Each region has one default network (id derived from the
region id, shared, read-only) with one subnet (the host network, 10.200.0.0/24); ports are the NICs
of the token project's servers (read-only). Projects create their own network records with subnets
(``hexagone.openstack.networks``): records only, until the networking work attaches instances."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from hexagone.api.deps import UC
from hexagone.api.routing import PUBLIC, endpoint
from hexagone.compute import instances
from hexagone.db.models import Zone
from hexagone.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from hexagone.openstack import networks, scope, views
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


def _fields(item: dict[str, Any], request: Request) -> dict[str, Any]:
    fields = request.query_params.getlist("fields")
    return {k: v for k, v in item.items() if k in fields} if fields else item


def _scoped_project(uc: UseCase) -> str | None:
    """The token's project, None for an unscoped token (which still sees the default networks)."""
    try:
        return scope.project_id(uc)
    except Unauthenticated:
        return None


def _project_networks(uc: UseCase) -> list[dict[str, Any]]:
    pid = _scoped_project(uc)
    if pid is None:
        return []
    try:
        nets = networks.list_networks(uc, pid)
    except (Forbidden, NotFound):
        return []
    subs: dict[str, list[str]] = {}
    for sub in networks.subnets_of(uc, [n.id for n in nets]):
        subs.setdefault(sub.network_id, []).append(sub.id)
    return [views.project_network(n, subs.get(n.id, [])) for n in nets]


def _project_subnets(uc: UseCase) -> list[dict[str, Any]]:
    pid = _scoped_project(uc)
    if pid is None:
        return []
    try:
        return [views.project_subnet(s) for s in networks.list_subnets(uc, pid)]
    except (Forbidden, NotFound):
        return []


def _spec(body: Any, key: str) -> dict[str, Any]:
    spec = body.get(key) if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        raise InvalidInput(f"Send {{'{key}': {{...}}}} (bulk creation is not supported).")
    return spec


def _default(item_id: str, ids: set[str], what: str) -> None:
    if item_id in ids:
        raise Forbidden(f"The {what} {item_id} belongs to a region's default network and cannot be changed.")


@endpoint(router, "GET", "/v2.0/networks", permission="region.read")
def list_networks(uc: UC, request: Request) -> dict[str, Any]:
    """The regions' default networks (shared) and the scoped project's own network records."""
    items = [views.network(*n) for n in _networks(uc)] + _project_networks(uc)
    return {"networks": _filtered(items, request)}


@endpoint(router, "GET", "/v2.0/networks/{network_id}", permission="region.read")
def get_network(network_id: str, uc: UC, request: Request) -> dict[str, Any]:
    defaults = [views.network(*n) for n in _networks(uc)]
    if network_id in {n["id"] for n in defaults}:
        return {"network": _fields(_one(defaults, network_id, "Network"), request)}
    pid = _scoped_project(uc)
    if pid is None:
        raise NotFound(f"Network {network_id[:64]} could not be found.")
    net = networks.load_network(uc, pid, network_id)
    subs = [s.id for s in networks.subnets_of(uc, [net.id])]
    return {"network": _fields(views.project_network(net, subs), request)}


@endpoint(router, "POST", "/v2.0/networks", permission="compute.create", status_code=201)
def create_network(uc: UC, body: dict[str, Any] = Body(...)) -> JSONResponse:
    net = networks.create_network(uc, scope.project_id(uc), _spec(body, "network"))
    return JSONResponse({"network": views.project_network(net, [])}, status_code=201)


@endpoint(router, "PUT", "/v2.0/networks/{network_id}", permission="compute.update")
def update_network(network_id: str, uc: UC, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    _default(network_id, {views.network_id(n[0]) for n in _networks(uc)}, "network")
    net = networks.update_network(uc, scope.project_id(uc), network_id, _spec(body, "network"))
    subs = [s.id for s in networks.subnets_of(uc, [net.id])]
    return {"network": views.project_network(net, subs)}


@endpoint(router, "DELETE", "/v2.0/networks/{network_id}", permission="compute.delete", status_code=204)
def delete_network(network_id: str, uc: UC) -> Response:
    _default(network_id, {views.network_id(n[0]) for n in _networks(uc)}, "network")
    networks.delete_network(uc, scope.project_id(uc), network_id)
    return Response(status_code=204)


@endpoint(router, "GET", "/v2.0/subnets", permission="region.read")
def list_subnets(uc: UC, request: Request) -> dict[str, Any]:
    items = [views.subnet(*n) for n in _networks(uc)] + _project_subnets(uc)
    return {"subnets": _filtered(items, request)}


@endpoint(router, "GET", "/v2.0/subnets/{subnet_id}", permission="region.read")
def get_subnet(subnet_id: str, uc: UC, request: Request) -> dict[str, Any]:
    defaults = [views.subnet(*n) for n in _networks(uc)]
    if subnet_id in {s["id"] for s in defaults}:
        return {"subnet": _fields(_one(defaults, subnet_id, "Subnet"), request)}
    pid = _scoped_project(uc)
    if pid is None:
        raise NotFound(f"Subnet {subnet_id[:64]} could not be found.")
    return {"subnet": _fields(views.project_subnet(networks.load_subnet(uc, pid, subnet_id)), request)}


@endpoint(router, "POST", "/v2.0/subnets", permission="compute.create", status_code=201)
def create_subnet(uc: UC, body: dict[str, Any] = Body(...)) -> JSONResponse:
    spec = _spec(body, "subnet")
    if not isinstance(spec.get("network_id"), str):
        raise InvalidInput("Invalid input for field/attribute network_id: the id of one of your networks.")
    if spec["network_id"] in {views.network_id(n[0]) for n in _networks(uc)}:
        raise Forbidden("A region's default network has one subnet, managed by the cloud.")
    sub = networks.create_subnet(uc, scope.project_id(uc), spec)
    return JSONResponse({"subnet": views.project_subnet(sub)}, status_code=201)


@endpoint(router, "PUT", "/v2.0/subnets/{subnet_id}", permission="compute.update")
def update_subnet(subnet_id: str, uc: UC, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    _default(subnet_id, {views.subnet_id(n[0]) for n in _networks(uc)}, "subnet")
    sub = networks.update_subnet(uc, scope.project_id(uc), subnet_id, _spec(body, "subnet"))
    return {"subnet": views.project_subnet(sub)}


@endpoint(router, "DELETE", "/v2.0/subnets/{subnet_id}", permission="compute.delete", status_code=204)
def delete_subnet(subnet_id: str, uc: UC) -> Response:
    _default(subnet_id, {views.subnet_id(n[0]) for n in _networks(uc)}, "subnet")
    networks.delete_subnet(uc, scope.project_id(uc), subnet_id)
    return Response(status_code=204)


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
