"""Compute hosts and their agents: join tokens, agent credentials, heartbeats, desired state,
observed state, decommissioning. Agents never see the database; they speak to these functions
over HTTP.

Host statuses: ``up`` (placements allowed), ``down`` (silent for longer than the grace period;
back ``up`` at its next heartbeat), ``disabled`` (by the operator: no new placements, but the
agent keeps its credential and still heartbeats, reports and converges its existing instances —
stops, reboots, deletes — so they stay managed and correctly billed), ``decommissioned`` (final:
the credential is revoked, every agent call answers 401 and the agent process stops; the row
stays for the history of the instances that ran there).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update

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
    uc.authorize_operator(org_target(root), "host.create", doing="join compute hosts")
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
    same_name = uc.session.execute(select(Host).where(Host.name == name)).scalar_one_or_none()
    if same_name is not None and same_name.revoked_at is None:
        raise Conflict(f"A host named '{name}' already exists; choose another name or decommission the old host.")
    if same_name is not None:  # a decommissioned host gives its name up to the machine re-joining
        same_name.name = f"{name[:60]}~decommissioned-{same_name.id[-12:]}"
        uc.session.flush()
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
    digest = uc.hasher.keyed(credential)
    host = uc.session.execute(select(Host).where(Host.credential_hash == digest)).scalar_one_or_none()
    if host is None:
        revoked = uc.session.execute(
            select(Host.id).where(Host.credential_hash == _revoked_hash(uc, digest))
        ).first()
        raise Unauthenticated(REVOKED if revoked else "The host credential is not valid: re-join the host.")
    if host.revoked_at is not None:
        raise Unauthenticated(REVOKED)
    return host


def _revoked_hash(uc: UseCase, digest: str) -> str:
    """What a revoked credential's hash becomes: it no longer matches the credential, yet a
    revoked agent can still be told why it is refused."""
    return uc.hasher.keyed("revoked:" + digest)


REVOKED = ("This host was decommissioned and its credential revoked: the agent must stop. To serve "
           "again, re-join with a new join token.")


def heartbeat(uc: UseCase, host: Host, inventory: dict[str, Any]) -> dict[str, Any]:
    was_down = host.status == "down"
    _apply_inventory(host, inventory)
    host.last_heartbeat_at = uc.now
    if was_down:
        host.status = "up"
        root = root_org(uc)
        uc.audit("host.up", "host", host.id, root.id, root.path, details={"name": host.name})
    return {"host_id": host.id, "status": host.status, "desired_revision": host.desired_revision}


def bump(uc: UseCase, host_id: str) -> int:
    """Tell the host's agent its desired state changed (revision + wake-up after commit); returns
    the new revision."""
    uc.session.execute(update(Host).where(Host.id == host_id).values(desired_revision=Host.desired_revision + 1))
    wake(uc, host_id)
    return current_revision(uc, host_id)


def current_revision(uc: UseCase, host_id: str) -> int:
    return int(uc.session.execute(select(Host.desired_revision).where(Host.id == host_id)).scalar_one())


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
        .where(
            Instance.host_id == host.id,
            # deleted instances whose guest the agent still runs (see ``_zombies``) are destroyed
            or_(Instance.state != states.DELETED, Instance.id.in_(list(host.unmanaged or []))),
        )
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
                "admin_password_hash": inst.admin_password_hash,
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


@dataclass(frozen=True)
class Observation:
    """One instance as the agent saw it. ``None`` fields were not reported and change nothing."""

    instance_id: str
    power_state: str
    guest_ready: bool | None = None
    reboot_seq_done: int | None = None
    accel: str | None = None
    detail: str | None = None
    console_tail: str | None = None
    destroyed: bool = False


@dataclass(frozen=True)
class Report:
    """What one agent process observed in one round. ``boot_id`` names the agent process, ``seq``
    numbers its reports; ``revision`` is the desired-state revision the observations were taken
    against."""

    boot_id: str
    seq: int
    revision: int
    observations: list[Observation] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)


def report(uc: UseCase, host: Host, rep: Report) -> dict[str, Any]:
    """Apply what the agent observed. Unknown ids are ignored; instances of other hosts too. A
    report older than (or the same as) the last applied one of the same agent process is ignored
    whole; an observation taken against a desired revision older than the instance's last user
    action is ignored (it may predate that action)."""
    unmanaged = [str(u)[:64] for u in rep.unmanaged[:1000]]
    before_unmanaged = list(host.unmanaged or [])
    ids = {o.instance_id for o in rep.observations} | set(unmanaged) | set(before_unmanaged)
    # Lock the instances before the host row (the host's changes are flushed later): a user action
    # locks an instance, then the host (``bump``); the opposite order here deadlocked on PostgreSQL.
    with uc.session.no_autoflush:
        instances = {
            i.id: i
            for i in uc.session.execute(
                select(Instance).where(Instance.id.in_(sorted(ids)), Instance.host_id == host.id)
                .order_by(Instance.id).with_for_update()
            ).scalars()
        } if ids else {}
    if not _advance_sequence(uc, host, rep.boot_id, rep.seq):
        return {"applied": 0, "stale": True}
    host.last_heartbeat_at = uc.now
    if host.status == "down":
        host.status = "up"
    applied, freed = 0, False
    for obs in rep.observations:
        inst = instances.get(obs.instance_id)
        if inst is None or rep.revision < inst.intent_revision:
            continue
        before, after = inst.state, _observe(uc, inst, obs)
        if after != before:
            _move(uc, host, inst, before, after)
            freed = freed or after == states.DELETED
            applied += 1
    zombies = _zombies(instances, rep.observations, unmanaged)
    host.unmanaged = unmanaged + sorted(zombies - set(unmanaged))
    if freed or zombies != _zombies(instances, [], before_unmanaged):
        bump(uc, host.id)
    return {"applied": applied}


def _advance_sequence(uc: UseCase, host: Host, boot_id: str, seq: int) -> bool:
    """Record (boot_id, seq) as the host's last report unless it is not newer; False when stale."""
    result = uc.session.execute(
        update(Host)
        .where(
            Host.id == host.id,
            or_(Host.agent_boot_id.is_(None), Host.agent_boot_id != boot_id, Host.agent_seq < seq),
        )
        .values(agent_boot_id=boot_id, agent_seq=seq)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _observe(uc: UseCase, inst: Instance, obs: Observation) -> str:
    """Apply one observation's fields (only those reported) and return the instance's new state."""
    before, power = inst.state, obs.power_state
    after = states.apply_observation(before, power, inst.desired_power, obs.destroyed)
    rebooted = obs.reboot_seq_done is not None and obs.reboot_seq_done >= inst.reboot_seq
    if before == states.REBOOTING and rebooted and power == "RUNNING":
        after = states.RUNNING
    if power == "ERROR" and before in (states.BUILDING, states.REBOOTING):
        after = states.ERROR
        inst.error_reason = str(obs.detail or "The host could not start the instance.")[:1000]
    elif power == "CRASHED" and after == states.ERROR and before != states.ERROR:
        inst.error_reason = "The guest crashed or was killed; start or reboot it."
    if after in (states.RUNNING, states.STOPPED) and after != before:
        inst.error_reason = ""
    if power == "RUNNING" and obs.detail:  # runs, but something is wrong (e.g. a wrong address)
        inst.error_reason = obs.detail[:1000]
    if obs.console_tail is not None:
        _store_console(uc, inst.id, obs.console_tail[-65536:])
    if obs.guest_ready is not None:
        inst.guest_ready = obs.guest_ready and after == states.RUNNING
    elif after != states.RUNNING:
        inst.guest_ready = False
    if obs.accel:
        inst.accel = obs.accel[:8]
    if after != before or (
        inst.task and power in ("RUNNING", "STOPPED") and (power == "RUNNING") == (inst.desired_power == "running")
    ):
        inst.task = ""
    return after


def _move(uc: UseCase, host: Host, inst: Instance, before: str, after: str) -> None:
    inst.state = after
    metering.instance_changed(uc, inst, before, after)
    inst.updated_at = uc.now
    if after == states.RUNNING and inst.launched_at is None:
        inst.launched_at = uc.now
    if after == states.DELETED:
        inst.deleted_at = uc.now
        _release(uc, inst)
    uc.actor.name = f"agent:{host.name}"
    uc.audit(
        "instance.state",
        "instance",
        inst.id,
        inst.org_id,
        inst.org_path,
        details={"from": before, "to": after, "host": host.name},
    )


def _zombies(instances: dict[str, Instance], observations: list[Observation], unmanaged: list[str]) -> set[str]:
    """Instances this region deleted whose guest the agent still finds: listed as unmanaged, or
    observed in another power state than MISSING. They go back to the desired state as ``deleted``,
    so the agent destroys them (a guest the region never knew is not among them: left alone)."""
    present = set(unmanaged) | {o.instance_id for o in observations if o.power_state != "MISSING"}
    return {i for i in present if i in instances and instances[i].state == states.DELETED}


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
        "revoked_at": h.revoked_at,
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
    uc.authorize_operator(org_target(root), "host.update", doing="manage compute hosts")
    host = load_host(uc, host_id)
    if host.revoked_at is not None:
        raise Conflict(f"Host {host.name} is decommissioned; join the machine again with a new join token.")
    if changes.get("status") in ("up", "disabled"):
        host.status = changes["status"]
    for key in ("cpu_ratio", "ram_ratio", "disk_ratio"):
        if changes.get(key) is not None:
            if not 0 < float(changes[key]) <= 64:
                raise InvalidInput(f"{key} must be between 0 and 64.")
            setattr(host, key, float(changes[key]))
    uc.audit("host.update", "host", host.id, root.id, root.path, details={"fields": sorted(changes)})
    return host


def decommission(uc: UseCase, host_id: str) -> Host:
    """Retire a host for good: refused (409) while it carries instances that are not deleted
    (delete or move them first); then its credential is revoked — the stored hash is replaced by a
    hash of it, so the old secret matches no host even if a check were missed — and its agent, woken at once,
    gets 401 and stops. Repeating it on a decommissioned host changes nothing."""
    root = root_org(uc)
    uc.authorize_operator(org_target(root), "host.delete", doing="decommission hosts")
    host = load_host(uc, host_id)
    # Lock the host row first: a placement racing with us either committed its claim before (and
    # its instance is counted below) or re-checks ``status = 'up'`` after us and fails.
    host = uc.session.execute(
        select(Host).where(Host.id == host.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if host.revoked_at is not None:
        return host
    live = uc.session.execute(
        select(Instance.id).where(Instance.host_id == host.id, Instance.state != states.DELETED)
    ).scalars().all()
    if live:
        raise Conflict(
            f"Host {host.name} still carries {len(live)} instance(s) (e.g. {live[0]}): delete them or move "
            "them to another host first; disable the host meanwhile so nothing new lands on it."
        )
    host.status, host.revoked_at = "decommissioned", uc.now
    host.credential_hash = _revoked_hash(uc, host.credential_hash)
    uc.audit("host.decommission", "host", host.id, root.id, root.path, details={"name": host.name})
    wake(uc, host.id)
    return host
