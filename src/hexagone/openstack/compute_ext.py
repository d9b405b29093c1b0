"""The few compute operations the OpenStack facade needs and the native API does not offer yet:
renaming an instance and deleting a server group. Same models, same policy, same audit trail."""

from __future__ import annotations

from sqlalchemy import select

from hexagone.authz.policy import Target
from hexagone.compute import instances, states
from hexagone.db.compute_models import Instance, ServerGroup
from hexagone.errors import InvalidInput, NotFound
from hexagone.ids import is_id
from hexagone.usecase import UseCase


def rename_instance(uc: UseCase, instance_id: str, name: str) -> Instance:
    inst = instances.load_instance(uc, instance_id)
    uc.authorize(instances.instance_target(inst), "compute.update", what="instance")
    name = name.strip()
    if not 1 <= len(name) <= 255:
        raise InvalidInput("A server name is 1 to 255 characters long.")
    before = inst.name
    inst.name = name
    inst.updated_at = uc.now
    uc.audit(
        "instance.update",
        "instance",
        inst.id,
        inst.org_id,
        inst.org_path,
        details={"fields": ["name"], "from": before, "to": name},
    )
    return inst


def load_group(uc: UseCase, project_id: str, group_id: str) -> ServerGroup:
    group = uc.session.get(ServerGroup, group_id) if is_id(group_id) else None
    if group is None or group.project_id != project_id:
        raise NotFound(f"Server group {group_id[:64]} could not be found.")
    uc.authorize(
        Target(org_path=group.org_path, project_id=group.project_id), "compute.read", what="server group"
    )
    return group


def group_members(uc: UseCase, group_id: str) -> list[str]:
    return list(
        uc.session.execute(
            select(Instance.id)
            .where(Instance.server_group_id == group_id, Instance.state != states.DELETED)
            .order_by(Instance.id)
        ).scalars()
    )


def delete_server_group(uc: UseCase, project_id: str, group_id: str) -> None:
    group = load_group(uc, project_id, group_id)
    uc.authorize(
        Target(org_path=group.org_path, project_id=group.project_id), "compute.delete", what="server group"
    )
    members = select(Instance).where(Instance.server_group_id == group.id)
    for inst in uc.session.execute(members).scalars():
        inst.server_group_id = None  # as in Nova: the servers stay, the group goes
    uc.session.delete(group)
    uc.audit(
        "server_group.delete", "server_group", group.id, None, group.org_path, details={"name": group.name}
    )
