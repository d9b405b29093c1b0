"""Nova v2.1 (``/compute``): version documents, flavors, keypairs, limits and server groups.
Servers are in ``hexagone.openstack.servers``. Exactly microversion 2.1 (``routing.MAX_VERSION``)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Body, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from hexagone.api.deps import UC
from hexagone.api.routing import PUBLIC, endpoint
from hexagone.compute import flavors, instances, keypairs, quotas
from hexagone.db.compute_models import Flavor, Keypair, ServerGroup
from hexagone.errors import InvalidInput
from hexagone.identity.orgs import load_project, project_target
from hexagone.openstack import compute_ext, scope, views
from hexagone.openstack.catalog import base_url
from hexagone.openstack.routing import NovaRoute, new_router

router = new_router("/compute", "openstack-compute", NovaRoute)
KEY_NAME = re.compile(r"^[A-Za-z0-9_.@-][A-Za-z0-9 _.@-]{0,254}$")


def _version(request: Request, vid: str) -> dict[str, Any]:
    base = base_url(request)
    if vid == "v2.0":
        return {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/compute/v2/"}],
        }
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": "2.1",
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}],
    }


def _one(request: Request, vid: str) -> dict[str, Any]:
    doc = _version(request, vid)
    doc["media-types"] = [
        {"base": "application/json", "type": f"application/vnd.openstack.compute+json;version={vid[1:]}"}
    ]
    return {"version": doc}


@endpoint(router, "GET", "", permission=PUBLIC)
def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request, "v2.0"), _version(request, "v2.1")]}


@endpoint(router, "GET", "/", permission=PUBLIC)
def versions_slash(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request, "v2.0"), _version(request, "v2.1")]}


@endpoint(router, "GET", "/v2", permission=PUBLIC)
def version_v2(request: Request) -> dict[str, Any]:
    return _one(request, "v2.0")


@endpoint(router, "GET", "/v2/", permission=PUBLIC)
def version_v2_slash(request: Request) -> dict[str, Any]:
    return _one(request, "v2.0")


@endpoint(router, "GET", "/v2.1", permission=PUBLIC)
def version_v21(request: Request) -> dict[str, Any]:
    return _one(request, "v2.1")


@endpoint(router, "GET", "/v2.1/", permission=PUBLIC)
def version_v21_slash(request: Request) -> dict[str, Any]:
    return _one(request, "v2.1")


# --- flavors ---------------------------------------------------------------------------------------


def page(items: list[Any], request: Request, key: str, path: str) -> tuple[list[Any], list[dict[str, str]]]:
    """Nova's marker/limit pagination over an id-ordered list; the next link when a page is full."""
    q = request.query_params
    marker = q.get("marker")
    if marker:
        ids = [i.id for i in items]
        if marker not in ids:
            raise InvalidInput(f"marker [{marker[:64]}] not found")
        items = items[ids.index(marker) + 1 :]
    limit_raw = q.get("limit")
    if limit_raw is None:
        return items, []
    if not limit_raw.isdigit():
        raise InvalidInput("limit must be a non-negative integer.")
    limit = int(limit_raw)
    if len(items) <= limit:
        return items[:limit], []
    shown = items[:limit]
    href = f"{base_url(request)}/compute/v2.1/{path}?limit={limit}&marker={shown[-1].id}" if shown else ""
    return shown, [{"rel": "next", "href": href}] if shown else []


def _flavors(uc: UC, request: Request) -> list[Flavor]:
    items, _ = flavors.list_flavors(uc, 1000, None, {})
    q = request.query_params
    public = (q.get("is_public") or "none").lower()
    if public in ("true", "1", "yes", "t", "y", "on"):
        items = [f for f in items if f.is_public]
    elif public in ("false", "0", "no", "f", "n", "off"):
        items = [f for f in items if not f.is_public]
    elif public not in ("none",):
        raise InvalidInput(f"Invalid is_public filter [{public[:20]}]: use True, False or None.")
    for key, attr in (("minRam", "ram_mb"), ("minDisk", "disk_gb")):
        if q.get(key) is not None:
            if not q[key].isdigit():
                raise InvalidInput(f"Invalid {key} filter [{q[key][:20]}].")
            items = [f for f in items if getattr(f, attr) >= int(q[key])]
    return sorted(items, key=lambda f: f.id)


@endpoint(router, "GET", "/v2.1/flavors", permission="flavor.read")
def list_flavors(uc: UC, request: Request) -> dict[str, Any]:
    ctx = views.ServerContext(base_url(request))
    items, nxt = page(_flavors(uc, request), request, "flavors", "flavors")
    return {"flavors": [views.flavor_brief(f, ctx) for f in items], **({"flavors_links": nxt} if nxt else {})}


@endpoint(router, "GET", "/v2.1/flavors/detail", permission="flavor.read")
def list_flavors_detail(uc: UC, request: Request) -> dict[str, Any]:
    ctx = views.ServerContext(base_url(request))
    items, nxt = page(_flavors(uc, request), request, "flavors", "flavors/detail")
    return {"flavors": [views.flavor(f, ctx) for f in items], **({"flavors_links": nxt} if nxt else {})}


@endpoint(router, "GET", "/v2.1/flavors/{flavor_id}", permission="flavor.read")
def get_flavor(flavor_id: str, uc: UC, request: Request) -> dict[str, Any]:
    return {"flavor": views.flavor(flavors.get_flavor(uc, flavor_id), views.ServerContext(base_url(request)))}


@endpoint(router, "GET", "/v2.1/flavors/{flavor_id}/os-extra_specs", permission="flavor.read")
def flavor_extra_specs(flavor_id: str, uc: UC) -> dict[str, Any]:
    flavors.get_flavor(uc, flavor_id)
    return {"extra_specs": {}}


# --- keypairs --------------------------------------------------------------------------------------


def _md5(key: Keypair) -> str:
    return keypairs.parse_public_key(key.public_key).fingerprint_md5


@endpoint(router, "POST", "/v2.1/os-keypairs", permission="keypair.create")
def create_keypair(uc: UC, body: dict[str, Any] = Body(...)) -> JSONResponse:
    """Import ``public_key``, or generate an ed25519 keypair (its private key is in the answer,
    this once). 200, as at microversion 2.1."""
    spec = body.get("keypair") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise InvalidInput("Send {'keypair': {'name': ..., 'public_key': ... (optional)}}.")
    name = spec["name"]
    if not KEY_NAME.match(name) or name != name.strip():
        raise InvalidInput(
            "Keypair data is invalid: the name must be 1-255 letters, digits, spaces, '_', '-', "
            "'.' or '@', without leading or trailing spaces."
        )
    public_key = spec.get("public_key")
    if public_key is not None and not isinstance(public_key, str):
        raise InvalidInput("public_key must be a string.")
    key, private = keypairs.create_keypair(uc, name, public_key)
    return JSONResponse({"keypair": views.keypair_created(key, _md5(key), private)})


@endpoint(router, "GET", "/v2.1/os-keypairs", permission="keypair.read")
def list_keypairs(uc: UC) -> dict[str, Any]:
    items, _ = keypairs.list_keypairs(uc, 1000, None)
    return {"keypairs": [views.keypair_listed(k, _md5(k)) for k in items]}


@endpoint(router, "GET", "/v2.1/os-keypairs/{name}", permission="keypair.read")
def get_keypair(name: str, uc: UC) -> dict[str, Any]:
    key = keypairs.get_keypair(uc, name)
    return {"keypair": views.keypair_shown(key, _md5(key))}


@endpoint(router, "DELETE", "/v2.1/os-keypairs/{name}", permission="keypair.delete", status_code=202)
def delete_keypair(name: str, uc: UC) -> Response:
    keypairs.delete_keypair(uc, name)
    return Response(status_code=202)


# --- limits ----------------------------------------------------------------------------------------


@endpoint(router, "GET", "/v2.1/limits", permission="quota.read")
def limits(uc: UC) -> dict[str, Any]:
    """The project's quotas and usage, named as Nova names them."""
    project = load_project(uc, scope.project_id(uc))
    uc.authorize(project_target(project), "quota.read", what="project")
    r = quotas.report(uc, "project", project.id)
    groups = uc.session.execute(select(ServerGroup.id).where(ServerGroup.project_id == project.id)).all()
    absolute = {
        "maxTotalInstances": r["instances"]["limit"],
        "totalInstancesUsed": r["instances"]["in_use"],
        "maxTotalCores": r["vcpus"]["limit"],
        "totalCoresUsed": r["vcpus"]["in_use"],
        "maxTotalRAMSize": r["ram_mb"]["limit"],
        "totalRAMUsed": r["ram_mb"]["in_use"],
        "maxServerMeta": 64,
        "maxImageMeta": 128,
        "maxPersonality": 0,
        "maxPersonalitySize": 0,
        "maxTotalKeypairs": 100,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "totalServerGroupsUsed": len(groups),
        "maxSecurityGroups": 0,
        "maxSecurityGroupRules": 0,
        "totalSecurityGroupsUsed": 0,
        "maxTotalFloatingIps": 0,
        "totalFloatingIpsUsed": 0,
    }
    return {"limits": {"rate": [], "absolute": absolute}}


# --- server groups ---------------------------------------------------------------------------------


def _group(uc: UC, g: ServerGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "policies": [g.policy],
        "members": compute_ext.group_members(uc, g.id),
        "metadata": {},
    }


@endpoint(router, "GET", "/v2.1/os-server-groups", permission="compute.read")
def list_server_groups(uc: UC) -> dict[str, Any]:
    pid = scope.project_id(uc)
    project = load_project(uc, pid)
    uc.authorize(project_target(project), "compute.read", what="project")
    rows = uc.session.execute(
        select(ServerGroup).where(ServerGroup.project_id == pid).order_by(ServerGroup.id)
    )
    return {"server_groups": [_group(uc, g) for g in rows.scalars()]}


@endpoint(router, "POST", "/v2.1/os-server-groups", permission="compute.create")
def create_server_group(uc: UC, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    spec = body.get("server_group") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"].strip():
        raise InvalidInput("Send {'server_group': {'name': ..., 'policies': ['anti-affinity']}}.")
    if len(spec["name"]) > 255:
        raise InvalidInput("Invalid input for field/attribute name: at most 255 characters.")
    policies = spec.get("policies")
    if (
        not isinstance(policies, list)
        or len(policies) != 1
        or policies[0] not in ("affinity", "anti-affinity")
    ):
        raise InvalidInput(
            "policies must be ['affinity'] or ['anti-affinity'] (soft policies are not supported)."
        )
    group = instances.create_server_group(uc, scope.project_id(uc), spec["name"], policies[0])
    return {"server_group": _group(uc, group)}


@endpoint(router, "GET", "/v2.1/os-server-groups/{group_id}", permission="compute.read")
def get_server_group(group_id: str, uc: UC) -> dict[str, Any]:
    return {"server_group": _group(uc, compute_ext.load_group(uc, scope.project_id(uc), group_id))}


@endpoint(router, "DELETE", "/v2.1/os-server-groups/{group_id}", permission="compute.delete", status_code=204)
def delete_server_group(group_id: str, uc: UC) -> Response:
    compute_ext.delete_server_group(uc, scope.project_id(uc), group_id)
    return Response(status_code=204)
