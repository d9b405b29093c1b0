"""SQLAlchemy models of compute: hosts and their agents, flavors, keypairs, images, instances,
server groups and quotas."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hexagone.db.base import Base, UTCDateTime

ID = String(36)


class Host(Base):
    """A compute host. ``*_used`` are the scheduler's claims, changed only by conditional UPDATEs
    so concurrent placements can never overcommit. ``desired_revision`` grows whenever the host's
    desired state changes; agents long-poll on it. ``agent_boot_id``/``agent_seq`` are the last
    applied report (each agent process has its own boot id and numbers its reports): an older or
    repeated report of the same boot is ignored."""

    __tablename__ = "hosts"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"), index=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="up")  # up | down | disabled | decommissioned
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    ram_mb: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    ram_mb_used: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    instances_used: Mapped[int] = mapped_column(Integer, default=0)
    cpu_ratio: Mapped[float] = mapped_column(Float, default=4.0)
    ram_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    disk_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    desired_revision: Mapped[int] = mapped_column(BigInteger, default=1)
    last_heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    agent_version: Mapped[str] = mapped_column(String(32), default="")
    unmanaged: Mapped[list[str]] = mapped_column(JSON, default=list)
    agent_boot_id: Mapped[str | None] = mapped_column(String(64))
    agent_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: Set when the host is decommissioned: its credential no longer authenticates (401).
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class HostJoinToken(Base):
    __tablename__ = "host_join_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"))
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    host_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Flavor(Base):
    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    ram_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class FlavorAccess(Base):
    __tablename__ = "flavor_access"
    flavor_id: Mapped[str] = mapped_column(ForeignKey("flavors.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    org_path: Mapped[str] = mapped_column(String(2000))


class Keypair(Base):
    __tablename__ = "keypairs"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16), default="ssh")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Image(Base):
    """A guest image. ``owner_org_id`` None means an operator system image. Files live under the
    data directory (``images/<id>/``); ``kernel``/``initrd`` are set for direct-kernel-boot images."""

    __tablename__ = "images"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    owner_org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="private")  # private|shared|public
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|saving|active|killed|deleted
    disk_format: Mapped[str] = mapped_column(String(16), default="qcow2")
    container_format: Mapped[str] = mapped_column(String(16), default="bare")
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    checksum_sha256: Mapped[str | None] = mapped_column(String(64))
    min_disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    min_ram_mb: Mapped[int] = mapped_column(Integer, default=0)
    boot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"kernel": ..., "initrd": ..., "cmdline": ...}
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ImageMember(Base):
    """An offer to share an image with one organisation, as Glance members are: ``pending`` until
    the receiving organisation ``accepted`` (or ``rejected``) it. ``org_id`` is not a foreign key:
    offering an image to an organisation that does not exist answers and is stored exactly like an
    offer to one the sharer cannot see (``org_path`` empty: nobody can accept it)."""

    __tablename__ = "image_members"
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | accepted | rejected
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ServerGroup(Base):
    __tablename__ = "server_groups"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(32))  # anti-affinity | affinity
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Instance(Base):
    """A virtual machine. ``state`` follows ``compute.states``; ``desired_power`` is what the agent
    converges to; ``reboot_seq`` grows on each reboot request. ``intent_revision`` is the host's
    desired revision that carried the last user action on it: an agent observation taken against an
    older revision predates that action and is ignored."""

    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_project_state", "project_id", "state"),
        Index("ix_instances_host_state", "host_id", "state"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    user_id: Mapped[str] = mapped_column(ID)
    flavor_id: Mapped[str] = mapped_column(ForeignKey("flavors.id"))
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"))
    vcpus: Mapped[int] = mapped_column(Integer)
    ram_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"))
    zone_id: Mapped[str | None] = mapped_column(ID)
    host_id: Mapped[str | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    server_group_id: Mapped[str | None] = mapped_column(ForeignKey("server_groups.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    task: Mapped[str] = mapped_column(String(16), default="")
    desired_power: Mapped[str] = mapped_column(String(16), default="running")  # running|stopped|deleted
    reboot_seq: Mapped[int] = mapped_column(Integer, default=0)
    intent_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reboot_type: Mapped[str] = mapped_column(String(4), default="SOFT", server_default="SOFT")  # of the last one
    error_reason: Mapped[str] = mapped_column(String(1000), default="")
    guest_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    key_name: Mapped[str | None] = mapped_column(String(255))
    ssh_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    user_data: Mapped[str | None] = mapped_column(Text)
    #: SHA-512 crypt of the guest's administrator password (Nova's adminPass), never the password
    admin_password_hash: Mapped[str | None] = mapped_column(String(128))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    mac: Mapped[str] = mapped_column(String(17), default="")
    ip: Mapped[str | None] = mapped_column(String(45))
    accel: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    launched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Quota(Base):
    """Limits for a project or an organisation (absent row: the defaults in settings)."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("scope_type", "scope_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scope_type: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[str] = mapped_column(ID)
    instances: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    ram_mb: Mapped[int] = mapped_column(BigInteger)
    disk_gb: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class InstanceConsole(Base):
    """The tail of an instance's serial console, as last uploaded by its agent."""

    __tablename__ = "instance_consoles"
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
