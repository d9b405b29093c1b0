"""Responses of /v1/audit."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hexagone.api.schemas.common import Id, Out, page_of


class AuditEventOut(Out):
    seq: int = Field(examples=[42])
    id: Id
    at: str = Field(examples=["2026-03-01T09:00:00.000000+00:00"])
    actor_user_id: str | None
    actor_name: str | None
    actor_org_id: str | None
    actor_api_key_id: str | None
    action: str = Field(examples=["project.create"])
    resource_type: str | None
    resource_id: str | None
    target_org_id: str | None
    target_org_path: str | None
    result: str = Field(examples=["success"])
    source_ip: str | None
    request_id: str | None
    details: dict[str, Any] | None
    prev_hash: str
    hash: str


class AnchorCheck(Out):
    seq: Any = Field(description="The anchor's sequence number, as given.")
    ok: bool
    reason: str


class VerifyOut(Out):
    ok: bool
    checked: int = Field(examples=[1234])
    first_bad_seq: int | None
    reason: str | None
    keyed_from: int | None = Field(None, description="First record linked with the keyed HMAC.")
    anchor: AnchorCheck | None = Field(None, description="The check against the anchor given (POST only).")


class AnchorOut(Out):
    format: str = Field(examples=["hexagone-audit-anchor/1"])
    seq: int = Field(examples=[1234])
    hash: str
    at: str
    mac: str


AuditEventPage = page_of(AuditEventOut, "AuditEventPage")
