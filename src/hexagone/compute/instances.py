"""Instances: create (placed atomically, within quota and residency), list, show, actions, delete,
console log. State changes follow ``compute.states``; the agent converges the host."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from hexagone.authz.policy import Target, visible_scopes
from hexagone.billing import budgets, metering
from hexagone.compute import guest_password, hosts, ipam, placement, quotas, states
from hexagone.compute.scheduler import Request
from hexagone.db.compute_models import Host, Instance, ServerGroup
from hexagone.db.models import Organisation
from hexagone.db.pagination import paginate
from hexagone.errors import Conflict, InvalidInput, NotFound
from hexagone.identity.orgs import _path_filter, load_project, load_region, project_target, zones_of
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase

MAX_USER_DATA = 64 * 1024


def instance_target(inst: Instance) -> Target:
    return Target(org_path=inst.org_path, project_id=inst.project_id)


def residency_of(uc: UseCase, org_path: str) -> tuple[frozenset[str], frozenset[str]]:
    """The residency rules that apply to an organisation: its own and every ancestor's, combined
    (each level can only narrow what the level above allows)."""
    ids = [p for p in org_path.strip("/").split("/") if p]
    countries: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    for org in uc.session.execute(select(Organisation).where(Organisation.id.in_(ids))).scalars():
        res = org.residency or {}
        if res.get("allowed_countries"):
            c = frozenset(res["allowed_countries"])
            countries = c if countries is None else countries & c
        if res.get("allowed_regions"):
            r = frozenset(res["allowed_regions"])
            regions = r if regions is None else regions & r
    if countries is not None and not countries:
        countries = frozenset({"--"})  # contradictory rules: nothing is allowed
    if regions is not None and not regions:
        regions = frozenset({"--"})
    return countries or frozenset(), regions or frozenset()


def passwords_enabled(uc: UseCase, region: str | None) -> bool:
    """Whether a create in ``region`` (None: this control plane's own) gets a generated guest
    password (``enable_instance_password``, turned off per region by ``instance_password_off_regions``)."""
    s = uc.settings
    return s.enable_instance_password and (region or s.region) not in s.instance_password_off_regions


def admin_password_for(uc: UseCase, region: str | None, given: Any) -> str | None:
    """The guest password of a new server, as Nova decides ``adminPass``: the one the request gives,
    else a generated one where passwords are enabled, else none. Returned once to the caller; the
    instance keeps only its hash (``create_instance`` with ``admin_password``)."""
    if given is not None:
        if not isinstance(given, str) or guest_password.problems(given):
            raise InvalidInput("; ".join(guest_password.problems(given if isinstance(given, str) else "")) + ".")
        return given
    return guest_password.generate() if passwords_enabled(uc, region) else None


def admin_password_hash(password: str | None) -> str | None:
    return guest_password.sha512_crypt(password) if password else None


def create_instance(uc: UseCase, body: dict[str, Any]) -> Instance:
    """``body["admin_password"]``, when given, is hashed at once; the clear value is not kept."""
    from hexagone.compute.flavors import usable_flavor
    from hexagone.compute.images import usable_image
    from hexagone.compute.keypairs import keys_for

    project = load_project(uc, body["project_id"])
    uc.authorize(project_target(project), "compute.create", what="project")
    flavor = usable_flavor(uc, body["flavor"], project.org_path)
    image = usable_image(uc, body["image"])
    if image.status != "active":
        raise Conflict(f"Image {image.name} is {image.status}; upload its data or choose an active image.")
    if image.min_disk_gb and image.min_disk_gb > flavor.disk_gb:
        raise InvalidInput(
            f"Image {image.name} needs a {image.min_disk_gb} GB disk; flavor {flavor.name} has {flavor.disk_gb} GB."
        )
    if image.min_ram_mb and image.min_ram_mb > flavor.ram_mb:
        raise InvalidInput(
            f"Image {image.name} needs {image.min_ram_mb} MB of RAM; flavor {flavor.name} has {flavor.ram_mb} MB."
        )
    keys = keys_for(uc, body["key_name"]) if body.get("key_name") else []
    user_data = body.get("user_data")
    if user_data is not None and len(user_data.encode()) > MAX_USER_DATA:
        raise InvalidInput(f"user_data is limited to {MAX_USER_DATA} bytes.")
    region = load_region(uc, body.get("region") or uc.settings.region)
    countries, regions = residency_of(uc, project.org_path)
    group_id = body.get("server_group_id")
    avoid: frozenset[str] = frozenset()
    same: frozenset[str] = frozenset()
    if group_id:
        group = uc.session.get(ServerGroup, group_id) if is_id(group_id) else None
        if group is None or group.project_id != project.id:
            raise NotFound("The server group does not exist in this project.")
        members = placement.group_hosts(uc, group.id)
        if group.policy == "anti-affinity":
            avoid = members
        else:
            same = members
    zone_id = None
    if body.get("zone"):
        zone = next((z for z in zones_of(uc, region.id) if body["zone"] in (z.name, z.id)), None)
        if zone is None:
            raise InvalidInput(f"Region {region.name} has no zone '{body['zone']}'.")
        zone_id = zone.id
    quotas.check_and_lock(uc, project, flavor.vcpus, flavor.ram_mb, flavor.disk_gb)
    budgets.check_can_create(uc, project)
    req = Request(
        vcpus=flavor.vcpus,
        ram_mb=flavor.ram_mb,
        disk_gb=flavor.disk_gb,
        region_id=region.id,
        zone_id=zone_id,
        allowed_countries=countries,
        allowed_regions=regions,
        region_name=region.name,
        avoid_hosts=avoid,
        same_hosts=same,
        required_capabilities=dict(body.get("required_capabilities") or {}),
    )
    host_id = placement.schedule_and_claim(uc, req, uc.settings.scheduler_strategy)
    host = uc.session.get(Host, host_id)
    assert host is not None
    iid = new_id()
    ip = None
    cidr = (host.capabilities or {}).get("network_cidr")
    if isinstance(cidr, str):
        used = uc.session.execute(
            select(Instance.ip).where(Instance.host_id == host_id, Instance.state != states.DELETED)
        ).scalars()
        ip = ipam.next_free(cidr, used)
    inst = Instance(
        id=iid,
        name=body["name"],
        project_id=project.id,
        org_id=project.org_id,
        org_path=project.org_path,
        user_id=uc.require_principal().user_id,
        flavor_id=flavor.id,
        image_id=image.id,
        vcpus=flavor.vcpus,
        ram_mb=flavor.ram_mb,
        disk_gb=flavor.disk_gb,
        region_id=region.id,
        zone_id=host.zone_id,
        host_id=host_id,
        server_group_id=group_id,
        state=states.BUILDING,
        task="",
        desired_power="running",
        reboot_seq=0,
        intent_revision=hosts.current_revision(uc, host_id),  # the claim moved it
        error_reason="",
        guest_ready=False,
        key_name=body.get("key_name"),
        ssh_keys=keys,
        user_data=user_data,
        admin_password_hash=admin_password_hash(body.get("admin_password")),
        metadata_=dict(body.get("metadata") or {}),
        mac=ipam.mac_for(iid),
        ip=ip,
        created_at=uc.now,
        updated_at=uc.now,
    )
    uc.session.add(inst)
    uc.session.flush()
    metering.instance_changed(uc, inst, None, inst.state)
    hosts.wake(uc, host_id)  # the claim already moved the host's desired revision
    uc.audit(
        "instance.create",
        "instance",
        inst.id,
        inst.org_id,
        inst.org_path,
        details={"name": inst.name, "flavor": flavor.name, "image": image.name, "host": host.name},
    )
    return inst


def load_instance(uc: UseCase, instance_id: str, lock: bool = False) -> Instance:
    """``lock``: row-lock it for a change decided from its current state (an agent's report may be
    moving it at the same moment)."""
    inst = uc.session.get(Instance, instance_id, with_for_update=lock or None) if is_id(instance_id) else None
    if inst is None or inst.state == states.DELETED:
        raise NotFound("The instance does not exist, or you cannot see it.")
    return inst


def get_instance(uc: UseCase, instance_id: str) -> Instance:
    inst = load_instance(uc, instance_id)
    uc.authorize(instance_target(inst), "compute.read", what="instance")
    return inst


def visible_filter(uc: UseCase) -> ColumnElement[bool]:
    principal = uc.require_principal()
    paths, project_ids = visible_scopes(principal, "compute.read")
    conds = [_path_filter(Instance.org_path, paths)]
    if project_ids:
        conds.append(Instance.project_id.in_(project_ids))
    return or_(*conds)


def list_instances(
    uc: UseCase, limit: int, cursor: str | None, filters: dict[str, Any]
) -> tuple[list[Instance], str | None]:
    stmt = select(Instance).where(visible_filter(uc))
    if not filters.get("include_deleted"):
        stmt = stmt.where(Instance.state != states.DELETED)
    for key in ("project_id", "name", "state", "host_id", "image_id", "flavor_id"):
        if filters.get(key):
            stmt = stmt.where(getattr(Instance, key) == filters[key])
    return paginate(uc.session, stmt, Instance.id, limit, cursor)


REBOOT_TYPES = ("SOFT", "HARD")


def action(uc: UseCase, instance_id: str, verb: str, reboot_type: str | None = None) -> Instance:
    """start / stop / reboot / delete. The stored state moves when the agent confirms, except
    reboot (REBOOTING at once) and delete (DELETING at once; DELETED at once if never placed).

    ``reboot_type`` (reboot only, as Nova's): ``SOFT`` (default) asks the guest to shut down and
    starts it again, forced off after a bounded wait; ``HARD`` resets it at once."""
    if reboot_type is not None and (verb != "reboot" or reboot_type not in REBOOT_TYPES):
        raise InvalidInput(
            "A reboot type is SOFT or HARD, and only a reboot takes one." if verb == "reboot"
            else f"Only a reboot takes a type; '{verb}' does not."
        )
    inst = load_instance(uc, instance_id, lock=True)
    uc.authorize(instance_target(inst), "compute.delete" if verb == "delete" else "compute.action", what="instance")
    before = inst.state
    target_state = states.apply_action(before, verb)  # raises Conflict when not allowed
    inst.task = ""
    if verb == "start":
        inst.desired_power = "running"
        inst.task = "starting" if before != states.RUNNING else ""
    elif verb == "stop":
        inst.desired_power = "stopped"
        inst.task = "stopping" if before != states.STOPPED else ""
    elif verb == "reboot":
        inst.desired_power = "running"
        inst.reboot_seq += 1
        inst.reboot_type = reboot_type or "SOFT"
        inst.state = target_state
        inst.guest_ready = False
    elif verb == "delete":
        inst.desired_power = "deleted"
        inst.state = target_state
        if inst.host_id is None:
            inst.state = states.DELETED
            inst.deleted_at = uc.now
    metering.instance_changed(uc, inst, before, inst.state)
    inst.updated_at = uc.now
    if inst.host_id:
        inst.intent_revision = hosts.bump(uc, inst.host_id)
    uc.audit(
        f"instance.{verb}", "instance", inst.id, inst.org_id, inst.org_path,
        details={"from": before, "to": inst.state, **({"type": inst.reboot_type} if verb == "reboot" else {})},
    )
    return inst


def host_status_map(uc: UseCase, host_ids: set[str]) -> dict[str, bool]:
    if not host_ids:
        return {}
    limit = uc.now - dt.timedelta(seconds=hosts.HEARTBEAT_GRACE_SECONDS)
    rows = uc.session.execute(select(Host.id, Host.status, Host.last_heartbeat_at).where(Host.id.in_(host_ids))).all()
    return {r.id: r.status != "down" and (r.last_heartbeat_at is None or r.last_heartbeat_at >= limit) for r in rows}


def instance_out(inst: Instance, host_up: bool = True) -> dict[str, Any]:
    return {
        "id": inst.id,
        "name": inst.name,
        "project_id": inst.project_id,
        "org_id": inst.org_id,
        "state": states.shown_state(inst.state, host_up),
        "stored_state": inst.state,
        "task": inst.task or None,
        "error_reason": inst.error_reason or None,
        "guest_ready": inst.guest_ready,
        "flavor_id": inst.flavor_id,
        "image_id": inst.image_id,
        "vcpus": inst.vcpus,
        "ram_mb": inst.ram_mb,
        "disk_gb": inst.disk_gb,
        "region_id": inst.region_id,
        "zone_id": inst.zone_id,
        "host_id": inst.host_id,
        "server_group_id": inst.server_group_id,
        "key_name": inst.key_name,
        "metadata": inst.metadata_ or {},
        "addresses": [{"network": "default", "ip": inst.ip, "mac": inst.mac}] if inst.ip or inst.mac else [],
        "accel": inst.accel,
        "created_at": inst.created_at,
        "updated_at": inst.updated_at,
        "launched_at": inst.launched_at,
    }


def list_server_groups(
    uc: UseCase, limit: int, cursor: str | None, project_id: str | None
) -> tuple[list[ServerGroup], str | None]:
    principal = uc.require_principal()
    paths, project_ids = visible_scopes(principal, "compute.read")
    conds = [_path_filter(ServerGroup.org_path, paths)]
    if project_ids:
        conds.append(ServerGroup.project_id.in_(project_ids))
    stmt = select(ServerGroup).where(or_(*conds))
    if project_id:
        stmt = stmt.where(ServerGroup.project_id == project_id)
    return paginate(uc.session, stmt, ServerGroup.id, limit, cursor)


def create_server_group(uc: UseCase, project_id: str, name: str, policy: str) -> ServerGroup:
    project = load_project(uc, project_id)
    uc.authorize(project_target(project), "compute.create", what="project")
    if policy not in ("anti-affinity", "affinity"):
        raise InvalidInput("policy must be 'anti-affinity' or 'affinity'.")
    group = ServerGroup(
        id=new_id(), project_id=project.id, org_path=project.org_path, name=name, policy=policy, created_at=uc.now
    )
    uc.session.add(group)
    uc.session.flush()
    uc.audit(
        "server_group.create",
        "server_group",
        group.id,
        project.org_id,
        project.org_path,
        details={"name": name, "policy": policy},
    )
    return group
