"""Responses of /v1/instances, /v1/server-groups, /v1/quotas and /v1/hosts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hexagone.api.schemas.common import Id, Out, Timestamp, page_of


class AddressOut(Out):
    network: str = Field(examples=["default"])
    ip: str | None = Field(examples=["10.0.0.5"])
    mac: str | None = Field(examples=["fa:16:3e:12:34:56"])


class InstanceOut(Out):
    id: Id
    name: str = Field(examples=["web-1"])
    project_id: Id
    org_id: Id
    state: str = Field(examples=["RUNNING"], description="As shown: UNKNOWN while the host is down.")
    stored_state: str = Field(examples=["RUNNING"])
    task: str | None
    error_reason: str | None
    guest_ready: bool
    flavor_id: Id
    image_id: Id
    vcpus: int
    ram_mb: int
    disk_gb: int
    region_id: Id | None
    zone_id: Id | None
    host_id: Id | None
    server_group_id: Id | None
    key_name: str | None
    metadata: dict[str, str]
    addresses: list[AddressOut]
    accel: str | None = Field(examples=["kvm"])
    created_at: Timestamp
    updated_at: Timestamp
    launched_at: Timestamp | None


class ConsoleOut(Out):
    instance_id: Id
    output: str
    updated_at: Timestamp | None


class ServerGroupOut(Out):
    id: Id
    project_id: Id
    name: str = Field(examples=["db"])
    policy: Literal["anti-affinity", "affinity"]


class QuotaUse(Out):
    limit: int | None = Field(examples=[10], description="null: unlimited.")
    in_use: int = Field(examples=[2])


class QuotaOut(Out):
    scope_type: Literal["project", "org"]
    scope_id: Id
    resources: dict[str, QuotaUse] = Field(description="instances, vcpus, ram_mb and disk_gb.")


class HostOut(Out):
    id: Id
    name: str = Field(examples=["host-1"])
    region_id: Id
    zone_id: Id | None
    status: str = Field(examples=["up"])
    vcpus: int
    ram_mb: int
    disk_gb: int
    vcpus_used: int
    ram_mb_used: int
    disk_gb_used: int
    instances: int
    cpu_ratio: float
    ram_ratio: float
    disk_ratio: float
    capabilities: dict[str, Any]
    last_heartbeat_at: Timestamp | None
    agent_version: str
    unmanaged_instances: list[str]
    revoked_at: Timestamp | None = Field(None, description="When the host was decommissioned (its credential revoked).")


class JoinTokenOut(Out):
    id: Id
    join_token: str = Field(examples=["hxj_…"], description="Shown in this answer only.")
    expires_at: Timestamp


InstancePage = page_of(InstanceOut, "InstancePage")
ServerGroupPage = page_of(ServerGroupOut, "ServerGroupPage")
HostPage = page_of(HostOut, "HostPage")
