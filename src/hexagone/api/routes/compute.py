"""/v1/instances, /v1/server-groups, /v1/quotas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import Field

from hexagone.api.deps import UC, IdemKey, PageQ, page_body
from hexagone.api.idempotency import run_create
from hexagone.api.routing import endpoint, new_router
from hexagone.api.schemas import Strict
from hexagone.api.schemas.compute import (
    ConsoleOut,
    InstanceOut,
    InstancePage,
    QuotaOut,
    ServerGroupOut,
    ServerGroupPage,
)
from hexagone.authz.policy import Target
from hexagone.compute import instances, quotas
from hexagone.db.compute_models import InstanceConsole
from hexagone.identity.orgs import load_org, load_project, org_target, project_target
from hexagone.identity.users import scope_noun

router = new_router("/v1", "compute")


class InstanceIn(Strict):
    project_id: str = Field(max_length=36)
    name: str = Field(min_length=1, max_length=255)
    flavor: str = Field(min_length=1, max_length=100, description="Flavor id or name.")
    image: str = Field(min_length=1, max_length=255, description="Image id or name.")
    key_name: str | None = Field(None, max_length=255)
    user_data: str | None = Field(None, max_length=65536)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=64)
    region: str | None = Field(None, max_length=63)
    zone: str | None = Field(None, max_length=63)
    server_group_id: str | None = Field(None, max_length=36)


class ActionIn(Strict):
    action: Literal["start", "stop", "reboot"]
    type: Literal["SOFT", "HARD"] | None = Field(
        None, description="Reboot only: SOFT (default; graceful, forced after a bounded wait) or HARD (reset)."
    )


class ServerGroupIn(Strict):
    project_id: str = Field(max_length=36)
    name: str = Field(min_length=1, max_length=255)
    policy: Literal["anti-affinity", "affinity"]


class QuotaIn(Strict):
    instances: int | None = Field(None, ge=0, le=1_000_000)
    vcpus: int | None = Field(None, ge=0, le=10_000_000)
    ram_mb: int | None = Field(None, ge=0, le=2**40)
    disk_gb: int | None = Field(None, ge=0, le=2**31)


def _out(uc: Any, inst: Any) -> dict[str, Any]:
    up = instances.host_status_map(uc, {inst.host_id} if inst.host_id else set())
    return instances.instance_out(inst, up.get(inst.host_id, True) if inst.host_id else True)


@endpoint(router, "POST", "/instances", permission="compute.create", status_code=202,
          response_model=InstanceOut)
def create_instance(body: InstanceIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Create an instance: placed now (atomically, within quota and residency), booted by its host's
    agent. Answers 202 with state BUILDING; poll until RUNNING (or ERROR with a reason)."""
    return run_create(
        uc,
        idem,
        "POST",
        request.url.path,
        body,
        lambda: _out(uc, instances.create_instance(uc, body.model_dump())),
        status_code=202,
    )


@endpoint(router, "GET", "/instances", permission="compute.read", response_model=InstancePage)
def list_instances(
    uc: UC,
    page: PageQ,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
    name: Annotated[str | None, Query(max_length=255)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    host_id: Annotated[str | None, Query(max_length=36)] = None,
) -> dict[str, Any]:
    items, cursor = instances.list_instances(
        uc, page.limit, page.cursor, {"project_id": project_id, "name": name, "state": state, "host_id": host_id}
    )
    up = instances.host_status_map(uc, {i.host_id for i in items if i.host_id})
    return page_body([instances.instance_out(i, up.get(i.host_id, True) if i.host_id else True) for i in items], cursor)


@endpoint(router, "GET", "/instances/{instance_id}", permission="compute.read", response_model=InstanceOut)
def get_instance(instance_id: str, uc: UC) -> dict[str, Any]:
    return _out(uc, instances.get_instance(uc, instance_id))


@endpoint(router, "POST", "/instances/{instance_id}/action", permission="compute.action", status_code=202,
          response_model=InstanceOut)
def instance_action(instance_id: str, body: ActionIn, uc: UC) -> dict[str, Any]:
    """start, stop (graceful, then forced after a timeout) or reboot (``type`` SOFT or HARD)."""
    return _out(uc, instances.action(uc, instance_id, body.action, body.type))


@endpoint(router, "DELETE", "/instances/{instance_id}", permission="compute.delete", status_code=202,
          response_model=InstanceOut)
def delete_instance(instance_id: str, uc: UC) -> dict[str, Any]:
    return _out(uc, instances.action(uc, instance_id, "delete"))


@endpoint(router, "GET", "/instances/{instance_id}/console", permission="compute.read",
          response_model=ConsoleOut)
def console(instance_id: str, uc: UC, tail: Annotated[int, Query(ge=1, le=65536)] = 16384) -> dict[str, Any]:
    """The tail of the serial console, as last reported by the host (a few seconds old at most)."""
    inst = instances.get_instance(uc, instance_id)
    row = uc.session.get(InstanceConsole, inst.id)
    text = row.text[-tail:] if row else ""
    return {"instance_id": inst.id, "output": text, "updated_at": row.updated_at if row else None}


@endpoint(router, "GET", "/server-groups", permission="compute.read", response_model=ServerGroupPage)
def list_groups(uc: UC, page: PageQ, project_id: Annotated[str | None, Query(max_length=36)] = None) -> dict[str, Any]:
    """Server groups of the projects you can see."""
    items, cursor = instances.list_server_groups(uc, page.limit, page.cursor, project_id)
    return page_body(
        [{"id": g.id, "project_id": g.project_id, "name": g.name, "policy": g.policy} for g in items], cursor
    )


@endpoint(router, "POST", "/server-groups", permission="compute.create", status_code=201,
          response_model=ServerGroupOut)
def create_group(body: ServerGroupIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    def create() -> dict[str, Any]:
        g = instances.create_server_group(uc, body.project_id, body.name, body.policy)
        return {"id": g.id, "project_id": g.project_id, "name": g.name, "policy": g.policy}

    return run_create(uc, idem, "POST", request.url.path, body, create)


def _quota_target(uc: Any, scope_type: str, scope_id: str) -> Target:
    if scope_type == "project":
        return project_target(load_project(uc, scope_id))
    return org_target(load_org(uc, scope_id))


@endpoint(router, "GET", "/quotas/{scope_type}/{scope_id}", permission="quota.read",
          response_model=QuotaOut)
def get_quota(scope_type: Literal["project", "org"], scope_id: str, uc: UC) -> dict[str, Any]:
    """Limits and current usage of a project or an organisation."""
    uc.authorize(_quota_target(uc, scope_type, scope_id), "quota.read", what=scope_noun(scope_type))
    return {"scope_type": scope_type, "scope_id": scope_id, "resources": quotas.report(uc, scope_type, scope_id)}


@endpoint(router, "PUT", "/quotas/{scope_type}/{scope_id}", permission="quota.update",
          response_model=QuotaOut)
def set_quota(scope_type: Literal["project", "org"], scope_id: str, body: QuotaIn, uc: UC) -> dict[str, Any]:
    """Set limits. Administrators of the organisation *above* set a customer's quotas; a customer's
    own administrators can set its projects' quotas."""
    target = _quota_target(uc, scope_type, scope_id)
    if scope_type == "org":
        org = load_org(uc, scope_id)
        parent = load_org(uc, org.parent_id) if org.parent_id else org
        target = org_target(parent)
    uc.authorize(target, "quota.update", what=scope_noun(scope_type))
    quotas.set_limits(uc, scope_type, scope_id, body.model_dump(exclude_unset=True))
    uc.audit("quota.update", "quota", scope_id, None, target.org_path, details=body.model_dump(exclude_unset=True))
    return {"scope_type": scope_type, "scope_id": scope_id, "resources": quotas.report(uc, scope_type, scope_id)}
