"""Responses of /v1/auth, /v1/organisations, /v1/projects, /v1/users, /v1/role-grants,
/v1/api-keys, /v1/regions and /v1/health."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hexagone.api.schemas.common import Id, Out, Timestamp, page_of

Role = Literal["owner", "admin", "member", "reader", "billing"]
ScopeType = Literal["org", "project"]


class OrgOut(Out):
    id: Id
    parent_id: Id | None
    kind: Literal["operator", "reseller", "customer"]
    name: str = Field(examples=["Mairie de Lyon"])
    legal_name: str
    country: str = Field(examples=["FR"])
    vat_id: str
    siren: str
    siret: str
    address: str
    mfa_required: bool
    residency: dict[str, list[str]] = Field(examples=[{"allowed_countries": ["FR"]}])
    status: str = Field(examples=["active"])
    created_at: Timestamp
    updated_at: Timestamp


class ProjectOut(Out):
    id: Id
    org_id: Id
    name: str = Field(examples=["web"])
    description: str
    created_at: Timestamp
    updated_at: Timestamp


class UserOut(Out):
    id: Id
    org_id: Id
    name: str = Field(examples=["alice"])
    email: str = Field(examples=["alice@example.org"])
    enabled: bool
    totp_enabled: bool
    locked: bool
    created_at: Timestamp


class GrantOut(Out):
    id: Id
    user_id: Id
    role: Role
    scope_type: ScopeType
    scope_id: Id
    created_at: Timestamp


class ApiKeyOut(Out):
    id: Id
    name: str = Field(examples=["ci"])
    prefix: str = Field(examples=["hxk_3f9a"])
    user_id: Id
    role: Role
    scope_type: ScopeType
    scope_id: Id
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked: bool


class ApiKeyCreated(ApiKeyOut):
    secret: str | None = Field(
        examples=["hxk_3f9a…"],
        description="The key itself: shown in this answer only (null on a replay of the same Idempotency-Key).",
    )
    withheld: dict[str, str] | None = Field(
        None, description="On a replay: the secret fields that were not kept, and why."
    )


class ZoneOut(Out):
    id: Id
    name: str = Field(examples=["a"])


class ZoneCreated(ZoneOut):
    region_id: Id


class RegionOut(Out):
    id: Id
    name: str = Field(examples=["fr-par"])
    country: str = Field(examples=["FR"])
    legal_entity: str = Field(examples=["Hexagone SAS"])
    description: str
    zones: list[ZoneOut]
    created_at: Timestamp


class LoginUser(Out):
    id: Id
    name: str = Field(examples=["alice"])
    org_id: Id


class LoginOut(Out):
    token: str = Field(examples=["hxt_…"], description="Send as Authorization: Bearer <token>.")
    token_id: Id
    expires_at: Timestamp
    user: LoginUser
    mfa: bool
    restricted: bool = Field(description="True when the token may only enrol a second factor.")
    warnings: list[str]


class OrgSummary(Out):
    id: Id
    name: str
    kind: Literal["operator", "reseller", "customer"]


class GrantSummary(Out):
    role: Role
    scope_type: ScopeType
    scope_id: Id
    scope_name: str | None = Field(None, examples=["Acme"], description="The organisation's or project's name.")


class WhoAmI(Out):
    user: UserOut
    organisation: OrgSummary | None
    grants: list[GrantSummary]
    api_key_id: Id | None
    restricted: bool


class TotpBegin(Out):
    secret: str = Field(examples=["JBSWY3DPEHPK3PXP"])
    otpauth_uri: str = Field(examples=["otpauth://totp/Hexagone:alice?secret=JBSWY3DPEHPK3PXP&issuer=Hexagone"])


class TotpConfirmed(Out):
    recovery_codes: list[str] = Field(examples=[["k3x9-p2m4", "q8r1-z7w5"]], description="Each works once.")
    note: str


class Health(Out):
    status: Literal["ok"]
    version: str = Field(examples=["0.1.0"])
    region: str = Field(examples=["fr-par"])
    checks: dict[str, str] = Field(default_factory=dict, examples=[{"database": "ok", "disk": "ok"}])


OrgPage = page_of(OrgOut, "OrgPage")
ProjectPage = page_of(ProjectOut, "ProjectPage")
UserPage = page_of(UserOut, "UserPage")
GrantPage = page_of(GrantOut, "GrantPage")
ApiKeyPage = page_of(ApiKeyOut, "ApiKeyPage")
RegionPage = page_of(RegionOut, "RegionPage")
