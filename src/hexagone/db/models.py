"""SQLAlchemy models of the control plane's state. Changing a model means a new Alembic revision
(`make migration MSG=...`); a test fails when models and migrations disagree."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from hexagone.db.base import Base, UTCDateTime

ID = String(36)


class Region(Base):
    __tablename__ = "regions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    legal_entity: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Zone(Base):
    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("region_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Organisation(Base):
    """A node of the tree: the operator at the root, resellers, customers. ``path`` is the chain of
    ids from the root ("/<root>/<reseller>/<customer>/"), so "is inside" is a prefix test.

    ``name_key`` is the case-folded name of a live organisation (NULL once deleted): siblings never
    share one, so a name picks one child of a parent. A plain unique index works on SQLite and
    PostgreSQL alike (NULLs are distinct), where a functional partial index would not compare, and
    adding it rebuilds no table."""

    __tablename__ = "organisations"
    __table_args__ = (Index("ix_organisations_sibling_name", "parent_id", "name_key", unique=True),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str | None] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(2000), index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    vat_id: Mapped[str] = mapped_column(String(32), default="")
    siren: Mapped[str] = mapped_column(String(9), default="")
    siret: Mapped[str] = mapped_column(String(14), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False)
    residency: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    @validates("name")
    def _fold_name(self, _key: str, name: str) -> str:
        self.name_key = name_key(name)
        return name


def name_key(name: str) -> str:
    """What makes two organisation names the same: case and surrounding blanks do not count."""
    return name.strip().casefold()


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class RoleGrant(Base):
    """A role on an organisation (inherited below it) or on one project."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "role", "scope_type", "scope_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    scope_type: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[str] = mapped_column(ID, index=True)
    scope_path: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Token(Base):
    """A bearer token. Only its keyed hash is stored."""

    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(ID)
    mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(64), default="")


class ApiKey(Base):
    """A long-lived key for automation, scoped to an organisation or a project, carrying one role.
    Only its keyed hash is stored; the secret is shown once at creation."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(2000), index=True)
    role: Mapped[str] = mapped_column(String(16))
    scope_type: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[str] = mapped_column(ID)
    scope_path: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class IdempotencyRecord(Base):
    """The first answer to a create carrying an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("principal", "key"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class AuditEvent(Base):
    """One link of the hash-chained audit trail. ``seq`` is gapless; ``hash`` covers the record and
    the previous hash, so a modified or deleted record breaks the chain."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_target_path_seq", "target_org_path", "seq"),)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    id: Mapped[str] = mapped_column(ID, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    actor_user_id: Mapped[str | None] = mapped_column(ID)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    actor_org_id: Mapped[str | None] = mapped_column(ID)
    actor_api_key_id: Mapped[str | None] = mapped_column(ID)
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    target_org_id: Mapped[str | None] = mapped_column(ID)
    target_org_path: Mapped[str] = mapped_column(String(2000), default="")
    result: Mapped[str] = mapped_column(String(16))
    source_ip: Mapped[str] = mapped_column(String(64), default="")
    request_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head (one row): serialises appends and detects deletion of the newest records."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
