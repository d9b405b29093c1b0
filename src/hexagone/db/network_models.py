"""SQLAlchemy models of project networks (records only, for now) and of the access addresses a
server advertises.

``Network`` and ``Subnet`` are per-project *records*: name, state, CIDR, gateway and allocation
pools. Nothing is wired on the hosts yet; attaching instances to them arrives with the networking
work (the OpenStack facade refuses a server create naming one, with a 400). A project's own
networks are visible to that project only.

``ServerAccessAddress`` holds Nova's ``accessIPv4``/``accessIPv6`` of an instance: addresses the
user *declares* (e.g. a NAT or load balancer in front of the server), never configured by the
cloud. A separate table rather than the instance's metadata, so guests and the native API never
see a reserved key, and rather than columns on ``instances``, which other work owns.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hexagone.db.base import Base, UTCDateTime

ID = String(36)


class Network(Base):
    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Subnet(Base):
    """A subnet of a project network. ``gateway_ip`` None: no gateway. ``allocation_pools`` is a
    list of ``{"start", "end"}`` (inclusive), computed by ``hexagone.openstack.ipam`` when not given."""

    __tablename__ = "subnets"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(45))
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    allocation_pools: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    host_routes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ServerAccessAddress(Base):
    """Nova's ``accessIPv4``/``accessIPv6`` of an instance (normalised; None when unset)."""

    __tablename__ = "server_access_addresses"
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    ipv4: Mapped[str | None] = mapped_column(String(15))
    ipv6: Mapped[str | None] = mapped_column(String(45))
