"""Nova v2.1 servers (``/compute/v2.1/servers``) over ``hexagone.compute.instances``.

The project is the token's scope; another project's server is 404 ``itemNotFound`` exactly like
a missing one. Status mapping: BUILDING→BUILD, RUNNING→ACTIVE, STOPPED→SHUTOFF, REBOOTING→REBOOT,
ERROR→ERROR, DELETING→ACTIVE (task_state ``deleting``), host silent→UNKNOWN.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import Body, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from hexagone.api.deps import UC
from hexagone.api.routing import endpoint
from hexagone.compute import instances, states
from hexagone.db.compute_models import Instance, InstanceConsole
from hexagone.db.models import Zone
from hexagone.db.network_models import ServerAccessAddress
from hexagone.errors import Conflict, InvalidInput, NotFound
from hexagone.openstack import compute_ext, ipam, matching, scope, views
from hexagone.openstack import networks as project_networks
from hexagone.openstack.catalog import base_url, network_names
from hexagone.openstack.nova import page, router
from hexagone.usecase import UseCase

ACTIONS = {"os-start": "start", "os-stop": "stop", "reboot": "reboot"}


def context(uc: UseCase, request: Request, items: list[Instance]) -> views.ServerContext:
    zones = {z.id: z.name for z in uc.session.execute(select(Zone)).scalars()}
    up = instances.host_status_map(uc, {i.host_id for i in items if i.host_id})
    access = access_addresses(uc, [i.id for i in items])
    return views.ServerContext(base_url(request), zones, network_names(uc), up, access)


def access_addresses(uc: UseCase, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """accessIPv4/accessIPv6 of these instances (``server_access_addresses``)."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for start in range(0, len(ids), 500):
        rows = select(ServerAccessAddress).where(ServerAccessAddress.instance_id.in_(ids[start : start + 500]))
        for row in uc.session.execute(rows).scalars():
            out[row.instance_id] = (row.ipv4, row.ipv6)
    return out


def access_spec(spec: dict[str, Any]) -> dict[str, str | None]:
    """The access addresses a create or update body sets (validated and normalised)."""
    out: dict[str, str | None] = {}
    for version in (4, 6):
        key = f"accessIPv{version}"
        if key in spec:
            out[f"ipv{version}"] = ipam.normalised_access_ip(spec[key], version)
    return out


def set_access(uc: UseCase, inst: Instance, changes: dict[str, str | None]) -> None:
    """Record declared access addresses: the cloud does not configure them (as in Nova)."""
    if not changes:
        return
    row = uc.session.get(ServerAccessAddress, inst.id)
    if row is None:
        row = ServerAccessAddress(instance_id=inst.id, ipv4=None, ipv6=None)
        uc.session.add(row)
    for key, value in changes.items():
        setattr(row, key, value)
    if row.ipv4 is None and row.ipv6 is None:
        if row in uc.session.new:
            uc.session.expunge(row)
        else:
            uc.session.delete(row)
    inst.updated_at = uc.now
    uc.session.flush()


def load(uc: UseCase, server_id: str) -> Instance:
    """A server of the token's project (404 ``itemNotFound`` otherwise)."""
    pid = scope.project_id(uc)
    inst = instances.get_instance(uc, server_id)
    if inst.project_id != pid:
        raise NotFound(f"Instance {server_id[:64]} could not be found.")
    return inst


def _ref(value: Any, what: str) -> str:
    """An id from ``imageRef``/``flavorRef``, which may also be a URL ending with the id."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} is required: give an id.")
    return value.rstrip("/").rsplit("/", 1)[-1]


def _network_region(uc: UseCase, networks: Any) -> str | None:
    """The region whose default network the request names (None: the default region)."""
    if networks in (None, "auto", "none"):
        return None
    if not isinstance(networks, list):
        raise InvalidInput("networks must be a list of {'uuid': ...}, 'auto' or 'none'.")
    by_id = {views.network_id(rid): rid for rid in network_names(uc)}
    pid = scope.project_id(uc)
    chosen = set()
    for net in networks:
        if not isinstance(net, dict) or "port" in net and net["port"]:
            raise InvalidInput("Only networks given by uuid are supported (no pre-created ports).")
        uuid = str(net.get("uuid", ""))
        rid = by_id.get(uuid)
        if rid is None:
            record = project_networks.network_of_project(uc, uuid)
            if record is not None and record.project_id == pid:
                raise InvalidInput(
                    f"Network {uuid} is a project network record: attaching servers to project "
                    "networks is not available yet. Use the region's default network "
                    "(networks 'auto', or the uuid of the network named 'default')."
                )
            raise InvalidInput(f"Network {uuid[:64]} could not be found.")
        chosen.add(rid)
    if len(chosen) > 1:
        raise InvalidInput("A server has one network here: the default network of its region.")
    if not chosen:
        return None
    from hexagone.db.models import Region

    region = uc.session.get(Region, chosen.pop())
    return region.name if region else None


def _image_of(server: dict[str, Any]) -> Any:
    image_ref = server.get("imageRef")
    for bdm in server.get("block_device_mapping_v2") or []:
        if not isinstance(bdm, dict):
            raise InvalidInput("block_device_mapping_v2 entries are objects.")
        if bdm.get("destination_type") == "volume" or bdm.get("source_type") not in ("image", None):
            raise InvalidInput("Booting from a volume is not supported yet: boot from an image.")
        if not image_ref and bdm.get("boot_index") in (0, "0"):
            image_ref = bdm.get("uuid")
    return image_ref


def native_body(uc: UseCase, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Translate a Nova create body into the native instance body (and how many to create)."""
    server = body.get("server") if isinstance(body, dict) else None
    if not isinstance(server, dict):
        raise InvalidInput("Send {'server': {'name': ..., 'imageRef': ..., 'flavorRef': ...}}.")
    name = server.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise InvalidInput("Invalid input for field/attribute name: 1 to 255 characters.")
    user_data = server.get("user_data")
    if user_data is not None:
        try:
            user_data = base64.b64decode(str(user_data), validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput("user_data must be base64-encoded UTF-8 text.") from exc
    metadata = server.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(v, str) and len(v) <= 255 and 0 < len(k) <= 255 for k, v in metadata.items()
    ):
        raise InvalidInput("metadata must map strings to strings, each of 1 to 255 characters.")
    hints = body.get("os:scheduler_hints") or {}
    for field, value in (("key_name", server.get("key_name")), ("availability_zone", server.get("availability_zone")),
                         ("os:scheduler_hints.group", hints.get("group") if isinstance(hints, dict) else None)):
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise InvalidInput(f"Invalid input for field/attribute {field}: a string of at most 255 characters.")
    count = server.get("max_count") or server.get("min_count") or 1
    if not isinstance(count, int) or not 1 <= count <= 10:
        raise InvalidInput("min_count/max_count must be between 1 and 10.")
    native = {
        "project_id": scope.project_id(uc),
        "name": name,
        "flavor": _ref(server.get("flavorRef"), "flavorRef"),
        "image": _ref(_image_of(server), "imageRef"),
        "key_name": server.get("key_name"),
        "user_data": user_data,
        "metadata": metadata,
        "region": _network_region(uc, server.get("networks")),
        "zone": server.get("availability_zone") or None,
        "server_group_id": hints.get("group") if isinstance(hints, dict) else None,
    }
    return native, int(count)


@endpoint(router, "POST", "/v2.1/servers", permission="compute.create", status_code=202)
def create_server(uc: UC, request: Request, body: dict[str, Any] = Body(...)) -> JSONResponse:
    """``adminPass``: the request's, or one generated where the region enables instance passwords
    (Nova's default); returned here once, set in the guest, kept only as a hash."""
    native, count = native_body(uc, body)
    access = access_spec(body["server"])
    password = instances.admin_password_for(uc, native["region"], body["server"].get("adminPass"))
    created = []
    for i in range(count):
        name = native["name"] if count == 1 else f"{native['name']}-{i + 1}"
        created.append(instances.create_instance(uc, {**native, "name": name, "admin_password": password}))
        set_access(uc, created[-1], access)
    first = created[0]
    ctx = views.ServerContext(base_url(request))
    out = {
        "id": first.id,
        "links": views.links(ctx, f"servers/{first.id}"),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": "default"}],
    }
    if password is not None and instances.passwords_enabled(uc, native["region"]):
        out["adminPass"] = password  # once: only its hash is stored
    return JSONResponse(
        {"server": out}, status_code=202, headers={"Location": ctx.compute(f"servers/{first.id}")}
    )


def _listed(uc: UseCase, request: Request) -> list[Instance]:
    pid = scope.project_id(uc)
    items: list[Instance] = []
    cursor = None
    while True:
        batch, cursor = instances.list_instances(uc, 1000, cursor, {"project_id": pid})
        items.extend(batch)
        if cursor is None:
            break
    q = request.query_params
    if q.get("name"):
        name_matches = matching.search("name", q["name"], matching.NAME_MAX)
        items = [i for i in items if name_matches(i.name)]
    if q.get("status"):
        wanted = views.states_for_status(q["status"])
        items = [i for i in items if i.state in wanted]
    if q.get("ip"):
        ip_matches = matching.search("ip", q["ip"], matching.IP_MAX)
        items = [i for i in items if i.ip and ip_matches(i.ip)]
    for key, attr in (("image", "image_id"), ("flavor", "flavor_id")):
        if q.get(key):
            items = [i for i in items if getattr(i, attr) == q[key].rstrip("/").rsplit("/", 1)[-1]]
    items.sort(key=lambda i: (i.created_at, i.id), reverse=True)
    return items


@endpoint(router, "GET", "/v2.1/servers", permission="compute.read")
def list_servers(uc: UC, request: Request) -> dict[str, Any]:
    items, nxt = page(_listed(uc, request), request, "servers", "servers")
    ctx = views.ServerContext(base_url(request))
    return {"servers": [views.server_brief(i, ctx) for i in items], **({"servers_links": nxt} if nxt else {})}


@endpoint(router, "GET", "/v2.1/servers/detail", permission="compute.read")
def list_servers_detail(uc: UC, request: Request) -> dict[str, Any]:
    """Filters: name (a regular expression, as in Nova), status, image, flavor; ``deleted`` and
    ``all_tenants`` are accepted and ignored (a project sees its own servers)."""
    items, nxt = page(_listed(uc, request), request, "servers", "servers/detail")
    ctx = context(uc, request, items)
    return {"servers": [views.server(i, ctx) for i in items], **({"servers_links": nxt} if nxt else {})}


@endpoint(router, "GET", "/v2.1/servers/{server_id}", permission="compute.read")
def get_server(server_id: str, uc: UC, request: Request) -> dict[str, Any]:
    inst = load(uc, server_id)
    return {"server": views.server(inst, context(uc, request, [inst]))}


@endpoint(router, "PUT", "/v2.1/servers/{server_id}", permission="compute.update")
def update_server(
    server_id: str, uc: UC, request: Request, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """Rename, and set the declared access addresses (accessIPv4/v6, recorded, not configured)."""
    spec = body.get("server") if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        raise InvalidInput("Send {'server': {'name': ...}}.")
    inst = load(uc, server_id)
    access = access_spec(spec)
    if "name" in spec:
        if not isinstance(spec["name"], str):
            raise InvalidInput("name must be a string.")
        inst = compute_ext.rename_instance(uc, inst.id, spec["name"])
    if access:
        uc.authorize(instances.instance_target(inst), "compute.update", what="instance")
        set_access(uc, inst, access)
        uc.audit(
            "instance.update",
            "instance",
            inst.id,
            inst.org_id,
            inst.org_path,
            details={"fields": sorted(f"accessIPv{k[-1]}" for k in access), **access},
        )
    return {"server": views.server(inst, context(uc, request, [inst]), detail=False)}


@endpoint(router, "DELETE", "/v2.1/servers/{server_id}", permission="compute.delete", status_code=204)
def delete_server(server_id: str, uc: UC) -> Response:
    instances.action(uc, load(uc, server_id).id, "delete")
    return Response(status_code=204)


@endpoint(router, "POST", "/v2.1/servers/{server_id}/action", permission="compute.action")
def server_action(server_id: str, uc: UC, body: dict[str, Any] = Body(...)) -> Response:
    """os-start, os-stop, reboot (202) and os-getConsoleOutput (200)."""
    inst = load(uc, server_id)
    if not isinstance(body, dict) or len(body) != 1:
        raise InvalidInput("Send exactly one action, e.g. {'os-start': null}.")
    name, args = next(iter(body.items()))
    if name == "os-getConsoleOutput":
        uc.authorize(instances.instance_target(inst), "compute.read", what="instance")
        row = uc.session.get(InstanceConsole, inst.id)
        text = row.text if row else ""
        length = args.get("length") if isinstance(args, dict) else None
        if length is not None and str(length).lstrip("-").isdigit() and int(length) >= 0:
            text = "\n".join(text.splitlines()[-int(length) :]) if int(length) else ""
        return JSONResponse({"output": text})
    verb = ACTIONS.get(name)
    if verb is None:
        raise InvalidInput(
            f"The action {name[:40]!r} is not supported here: use os-start, os-stop, reboot or "
            "os-getConsoleOutput."
        )
    shown = views.status_of(inst.state)
    if (verb, shown) in (("start", "ACTIVE"), ("stop", "SHUTOFF")):
        raise Conflict(
            f"Cannot '{name}' instance {inst.id} while it is in vm_state "
            f"{views.VM_STATE.get(inst.state, 'active')}."
        )
    if inst.state == states.DELETING:
        raise Conflict(f"Cannot '{name}' instance {inst.id} while it is being deleted.")
    reboot_type = None
    if verb == "reboot":  # {"reboot": {"type": "SOFT" | "HARD"}}; Nova requires the type
        reboot_type = str(args.get("type", "SOFT")).upper() if isinstance(args, dict) else "SOFT"
        if reboot_type not in instances.REBOOT_TYPES:
            raise InvalidInput("The reboot type must be SOFT or HARD.")
    instances.action(uc, inst.id, verb, reboot_type)
    return Response(status_code=202)


@endpoint(router, "GET", "/v2.1/servers/{server_id}/ips", permission="compute.read")
def server_ips(server_id: str, uc: UC, request: Request) -> dict[str, Any]:
    inst = load(uc, server_id)
    return {"addresses": views.addresses(inst, context(uc, request, [inst]))}


@endpoint(router, "GET", "/v2.1/servers/{server_id}/ips/{network}", permission="compute.read")
def server_ips_of(server_id: str, network: str, uc: UC, request: Request) -> dict[str, Any]:
    inst = load(uc, server_id)
    found = views.addresses(inst, context(uc, request, [inst]))
    if network not in found:
        raise NotFound(f"The server has no address on network {network[:64]}.")
    return {network: found[network]}


@endpoint(router, "GET", "/v2.1/servers/{server_id}/metadata", permission="compute.read")
def server_metadata(server_id: str, uc: UC) -> dict[str, Any]:
    return {"metadata": dict(load(uc, server_id).metadata_ or {})}
