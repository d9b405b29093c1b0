"""Compute hosts and their agents: join tokens, agent credentials, heartbeats, desired state,
observed state. Agents never see the database; they speak to these functions over HTTP."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select, update

from hexagone.billing import metering
from hexagone.compute import states
from hexagone.compute.driver import hostname_label
from hexagone.compute.notify import after_commit
from hexagone.db.compute_models import Host, HostJoinToken, Image, Instance, InstanceConsole
from hexagone.db.models import Zone
from hexagone.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from hexagone.identity.orgs import load_region, org_target, root_org
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase

HEARTBEAT_GRACE_SECONDS = 45


def create_join_token(uc: UseCase, region: str, zone: str | None, ttl_seconds: int = 3600) -> tuple[HostJoinToken, str]:
    root = root_org(uc)
    uc.authorize(org_target(root), "host.create", what="host")
    reg = load_region(uc, region)
    zones = list(uc.session.execute(select(Zone).where(Zone.region_id == reg.id)).scalars())
    chosen = next((z for z in zones if z.name == zone or z.id == zone), None) if zone else (zones[0] if zones else None)
    if chosen is None:
        raise InvalidInput(f"Region {reg.name} has no zone '{zone or ''}': create one first.")
    raw = "hxj_" + secrets.token_urlsafe(32)
    row = HostJoinToken(
        id=new_id(),
        token_hash=uc.hasher.keyed(raw),
        region_id=reg.id,
        zone_id=chosen.id,
        expires_at=uc.now + dt.timedelta(seconds=ttl_seconds),
        created_at=uc.now,
    )
    uc.session.add(row)
    uc.session.flush()
    uc.audit(
        "host.join_token.create",
        "host_join_token",
        row.id,
        root.id,
        root.path,
        details={"region": reg.name, "zone": chosen.name},
    )
    return row, raw


def join(uc: UseCase, join_token: str, name: str, inventory: dict[str, Any]) -> tuple[Host, str]:
    """Exchange a one-time join token for the host's own credential (shown once)."""
    row = uc.session.execute(
        select(HostJoinToken).where(HostJoinToken.token_hash == uc.hasher.keyed(join_token)).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= uc.now:
        raise Unauthenticated("The join token is invalid, used or expired: ask the operator for a new one.")
    if uc.session.execute(select(Host.id).where(Host.name == name)).first():
        raise Conflict(f"A host named '{name}' already exists; choose another name or remove the old host.")
    credential = "hxa_" + secrets.token_urlsafe(32)
    host = Host(
        id=new_id(),
        name=name,
        region_id=row.region_id,
        zone_id=row.zone_id,
        status="up",
        credential_hash=uc.hasher.keyed(credential),
        created_at=uc.now,
        last_heartbeat_at=uc.now,
        capabilities={},
        unmanaged=[],
        desired_revision=1,
    )
    _apply_inventory(host, inventory)
    uc.session.add(host)
    row.used_at, row.host_id = uc.now, host.id
    uc.session.flush()
    root = root_org(uc)
    uc.actor.name = f"agent:{name}"
    uc.audit("host.join", "host", host.id, root.id, root.path, details={"name": name})
    return host, credential


def _apply_inventory(host: Host, inv: dict[str, Any]) -> None:
    for key in ("vcpus", "ram_mb", "disk_gb"):
        if key in inv:
            value = int(inv[key])
            if value < 0:
                raise InvalidInput(f"{key} cannot be negative.")
            setattr(host, key, value)
    if "capabilities" in inv and isinstance(inv["capabilities"], dict):
        host.capabilities = {str(k)[:64]: v for k, v in list(inv["capabilities"].items())[:64]}
    if "agent_version" in inv:
        host.agent_version = str(inv["agent_version"])[:32]


def authenticate_agent(uc: UseCase, credential: str | None) -> Host:
    if not credential or not credential.startswith("hxa_"):
        raise Unauthenticated("Agents authenticate with their host credential (hxa_...).")
    host = uc.session.execute(
        select(Host).where(Host.credential_hash == uc.hasher.keyed(credential))
    ).scalar_one_or_none()
    if host is None:
        raise Unauthenticated("The host credential is not valid: re-join the host.")
    return host


def heartbeat(uc: UseCase, host: Host, inventory: dict[str, Any]) -> dict[str, Any]:
    was_down = host.status == "down"
    _apply_inventory(host, inventory)
    host.last_heartbeat_at = uc.now
    if was_down:
        host.status = "up"
        root = root_org(uc)
        uc.audit("host.up", "host", host.id, root.id, root.path, details={"name": host.name})
    return {"host_id": host.id, "status": host.status, "desired_revision": host.desired_revision}


def bump(uc: UseCase, host_id: str) -> None:
    """Tell the host's agent its desired state changed (revision + wake-up after commit)."""
    uc.session.execute(update(Host).where(Host.id == host_id).values(desired_revision=Host.desired_revision + 1))
    wake(uc, host_id)


def wake(uc: UseCase, host_id: str) -> None:
    """Wake the host's agent once the transaction commits (the revision already moved, e.g. with
    the placement claim)."""
    notifier = uc.extras.get("notifier")
    if notifier is not None:
        after_commit(uc.session, lambda: notifier.notify(host_id))


def desired_state(uc: UseCase, host: Host, base_url: str) -> dict[str, Any]:
    rows = uc.session.execute(
        select(Instance, Image)
        .join(Image, Image.id == Instance.image_id)
        .where(Instance.host_id == host.id, Instance.state != states.DELETED)
        .order_by(Instance.id)
    ).all()
    items = []
    for inst, image in rows:
        items.append(
            {
                "instance_id": inst.id,
                "name": inst.name,
                "vcpus": inst.vcpus,
                "ram_mb": inst.ram_mb,
                "disk_gb": inst.disk_gb,
                "hostname": hostname_label(inst.name),
                "mac": inst.mac,
                "ip": inst.ip,
                "ssh_authorized_keys": list(inst.ssh_keys or []),
                "user_data": inst.user_data,
                "metadata": {str(k): str(v) for k, v in (inst.metadata_ or {}).items()},
                "desired_power": states.desired_power(inst.state, inst.desired_power),
                "reboot_seq": inst.reboot_seq,
                "reboot_type": inst.reboot_type,
                "image": {
                    "id": image.id,
                    "disk_format": image.disk_format,
                    "checksum_sha256": image.checksum_sha256,
                    "boot": image.boot or {},
                    "url": f"{base_url}/v1/agent/images/{image.id}",
                },
            }
        )
    return {"host_id": host.id, "revision": host.desired_revision, "instances": items}


def report(uc: UseCase, host: Host, observations: list[dict[str, Any]], unmanaged: list[str]) -> dict[str, Any]:
    """Apply what the agent observed. Unknown ids are ignored; instances of other hosts too."""
    host.last_heartbeat_at = uc.now
    if host.status == "down":
        host.status = "up"
    host.unmanaged = [str(u)[:64] for u in unmanaged[:1000]]
    ids = [o.get("instance_id") for o in observations if isinstance(o.get("instance_id"), str)]
    if not ids:
        return {"applied": 0}
    # Lock the instances before the host row (the host's changes above are flushed later): a user
    # action locks an instance, then the host (``bump``); the opposite order here deadlocked on PostgreSQL.
    with uc.session.no_autoflush:
        instances = {
            i.id: i
            for i in uc.session.execute(
                select(Instance).where(Instance.id.in_(ids), Instance.host_id == host.id).with_for_update()
            ).scalars()
        }
    applied = 0
    freed = False
    for obs in observations:
        inst = instances.get(obs.get("instance_id", ""))
        if inst is None:
            continue
        before = inst.state
        power = str(obs.get("power_state", ""))
        after = states.apply_observation(before, power, inst.desired_power)
        if inst.state == states.REBOOTING and obs.get("reboot_seq_done", -1) >= inst.reboot_seq and power == "RUNNING":
            after = states.RUNNING
        if power == "ERROR" and before in (states.BUILDING, states.REBOOTING):
            after = states.ERROR
            inst.error_reason = str(obs.get("detail") or "The host could not start the instance.")[:1000]
        elif power == "CRASHED" and after == states.ERROR:
            inst.error_reason = "The guest crashed or was killed; start or reboot it."
        elif power == "RUNNING" and obs.get("detail"):  # runs, but something is wrong (wrong address)
            inst.error_reason = str(obs["detail"])[:1000]
        if isinstance(obs.get("console_tail"), str):
            _store_console(uc, inst.id, obs["console_tail"][-65536:])
        if "guest_ready" in obs:
            inst.guest_ready = bool(obs["guest_ready"]) and after == states.RUNNING
        if obs.get("accel"):
            inst.accel = str(obs["accel"])[:8]
        if after != before or (
            inst.task and power in ("RUNNING", "STOPPED") and (power == "RUNNING") == (inst.desired_power == "running")
        ):
            inst.task = ""
        if after != before:
            inst.state = after
            metering.instance_changed(uc, inst, before, after)
            inst.updated_at = uc.now
            if after == states.RUNNING and inst.launched_at is None:
                inst.launched_at = uc.now
            if after == states.DELETED:
                inst.deleted_at = uc.now
                _release(uc, inst)
                freed = True
            uc.actor.name = f"agent:{host.name}"
            uc.audit(
                "instance.state",
                "instance",
                inst.id,
                inst.org_id,
                inst.org_path,
                details={"from": before, "to": after, "host": host.name},
            )
            applied += 1
    if freed:
        bump(uc, host.id)
    return {"applied": applied}


def _store_console(uc: UseCase, instance_id: str, text: str) -> None:
    row = uc.session.get(InstanceConsole, instance_id)
    if row is None:
        uc.session.add(InstanceConsole(instance_id=instance_id, text=text, updated_at=uc.now))
    else:
        row.text, row.updated_at = text, uc.now


def _release(uc: UseCase, inst: Instance) -> None:
    """Give the instance's claim back to its host."""
    if inst.host_id is None:
        return
    uc.session.execute(
        update(Host)
        .where(Host.id == inst.host_id)
        .values(
            vcpus_used=Host.vcpus_used - inst.vcpus,
            ram_mb_used=Host.ram_mb_used - inst.ram_mb,
            disk_gb_used=Host.disk_gb_used - inst.disk_gb,
            instances_used=Host.instances_used - 1,
        )
    )


def mark_down(uc: UseCase, grace_seconds: int = HEARTBEAT_GRACE_SECONDS) -> list[str]:
    """Hosts that missed heartbeats are marked down (their instances show UNKNOWN; nothing is
    deleted or billed as running). Run periodically by the control plane."""
    limit = uc.now - dt.timedelta(seconds=grace_seconds)
    hosts = list(
        uc.session.execute(
            select(Host).where(Host.status == "up", Host.last_heartbeat_at < limit).with_for_update()
        ).scalars()
    )
    if not hosts:
        return []
    root = root_org(uc)
    for host in hosts:
        host.status = "down"
        uc.actor.name = "control-plane"
        uc.audit(
            "host.down",
            "host",
            host.id,
            root.id,
            root.path,
            details={
                "name": host.name,
                "last_heartbeat_at": host.last_heartbeat_at.isoformat() if host.last_heartbeat_at else None,
            },
        )
    return [h.id for h in hosts]


def fail_stuck_builds(uc: UseCase, timeout_seconds: int) -> int:
    """Instances BUILDING for longer than the timeout on an *up* host go to ERROR, so nothing is
    stuck forever; on a down host they stay (shown UNKNOWN) until it returns."""
    limit = uc.now - dt.timedelta(seconds=timeout_seconds)
    rows = list(
        uc.session.execute(
            select(Instance)
            .join(Host, Host.id == Instance.host_id)
            .where(Instance.state == states.BUILDING, Instance.created_at < limit, Host.status == "up")
            .with_for_update()
        ).scalars()
    )
    for inst in rows:
        inst.state = states.ERROR
        metering.instance_changed(uc, inst, states.BUILDING, inst.state)
        inst.error_reason = (
            f"The instance did not start within {timeout_seconds} s; delete it and try again, "
            "or contact support with its id."
        )
        inst.updated_at = uc.now
        uc.audit(
            "instance.state",
            "instance",
            inst.id,
            inst.org_id,
            inst.org_path,
            details={"from": states.BUILDING, "to": states.ERROR, "reason": "build timeout"},
        )
    return len(rows)


def host_out(h: Host, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": h.id,
        "name": h.name,
        "region_id": h.region_id,
        "zone_id": h.zone_id,
        "status": h.status,
        "vcpus": h.vcpus,
        "ram_mb": h.ram_mb,
        "disk_gb": h.disk_gb,
        "vcpus_used": h.vcpus_used,
        "ram_mb_used": h.ram_mb_used,
        "disk_gb_used": h.disk_gb_used,
        "instances": h.instances_used,
        "cpu_ratio": h.cpu_ratio,
        "ram_ratio": h.ram_ratio,
        "disk_ratio": h.disk_ratio,
        "capabilities": h.capabilities or {},
        "last_heartbeat_at": h.last_heartbeat_at,
        "agent_version": h.agent_version,
        "unmanaged_instances": h.unmanaged or [],
    }


def load_host(uc: UseCase, host_id: str) -> Host:
    host = uc.session.get(Host, host_id) if is_id(host_id) else None
    if host is None:
        host = uc.session.execute(select(Host).where(Host.name == host_id)).scalar_one_or_none()
    if host is None:
        raise NotFound("The host does not exist.")
    return host


def update_host(uc: UseCase, host_id: str, changes: dict[str, Any]) -> Host:
    root = root_org(uc)
    uc.authorize(org_target(root), "host.update", what="host")
    host = load_host(uc, host_id)
    if changes.get("status") in ("up", "disabled"):
        host.status = changes["status"]
    for key in ("cpu_ratio", "ram_ratio", "disk_ratio"):
        if changes.get(key) is not None:
            if not 0 < float(changes[key]) <= 64:
                raise InvalidInput(f"{key} must be between 0 and 64.")
            setattr(host, key, float(changes[key]))
    uc.audit("host.update", "host", host.id, root.id, root.path, details={"fields": sorted(changes)})
    return host
