"""Request and response bodies of the native API /v1. Requests forbid unknown fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

Name = Field(min_length=1, max_length=200)
Role = Literal["owner", "admin", "member", "reader", "billing"]
#: C0 control characters other than tab, newline and carriage return (NUL cannot even be stored
#: by PostgreSQL), and DEL.
_CONTROL = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127))


def _no_control_characters(value: Any) -> Any:
    if isinstance(value, str):
        if not _CONTROL.isdisjoint(value):
            raise ValueError("control characters (such as NUL) are not allowed")
    elif isinstance(value, list):
        for item in value:
            _no_control_characters(item)
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _no_control = field_validator("*", mode="after")(classmethod(lambda cls, v: _no_control_characters(v)))


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(None, max_length=16)
    recovery_code: str | None = Field(None, max_length=32)


class Residency(Strict):
    allowed_countries: list[str] = Field(default_factory=list, max_length=50)
    allowed_regions: list[str] = Field(default_factory=list, max_length=100)


class OrgIn(Strict):
    parent_id: str = Field(max_length=36)
    kind: Literal["reseller", "customer"]
    name: str = Name
    legal_name: str = Field("", max_length=200)
    country: str = Field("FR", min_length=2, max_length=2)
    vat_id: str = Field("", max_length=32)
    siren: str = Field("", max_length=9)
    siret: str = Field("", max_length=14)
    address: str = Field("", max_length=500)
    mfa_required: bool = False
    residency: Residency | None = None


class OrgPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    legal_name: str | None = Field(None, max_length=200)
    country: str | None = Field(None, min_length=2, max_length=2)
    vat_id: str | None = Field(None, max_length=32)
    siren: str | None = Field(None, max_length=9)
    siret: str | None = Field(None, max_length=14)
    address: str | None = Field(None, max_length=500)
    mfa_required: bool | None = None
    residency: Residency | None = None


class ProjectIn(Strict):
    org_id: str = Field(max_length=36)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=500)


class ProjectPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)


class UserIn(Strict):
    org_id: str = Field(max_length=36)
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    email: str = Field("", max_length=254)
    roles: list[Role] = Field(default_factory=list, max_length=5)


class UserPatch(Strict):
    email: str | None = Field(None, max_length=254)
    enabled: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=1024)
    unlock: bool | None = None


class GrantIn(Strict):
    user_id: str = Field(max_length=36)
    role: Role
    scope_type: Literal["org", "project"]
    scope_id: str = Field(max_length=36)


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    scope_type: Literal["org", "project"]
    scope_id: str = Field(max_length=36)
    role: Role
    expires_at: AwareDatetime | None = Field(None, description="With a timezone, such as 2027-01-01T00:00:00Z.")


class RegionIn(Strict):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")
    country: str = Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")
    legal_entity: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=500)


class RegionPatch(Strict):
    country: str | None = Field(None, min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")
    legal_entity: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=500)


class ZoneIn(Strict):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")


class TotpConfirmIn(Strict):
    code: str = Field(min_length=1, max_length=32)


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


def org_out(o: Any) -> dict[str, Any]:
    return {
        "id": o.id, "parent_id": o.parent_id, "kind": o.kind, "name": o.name, "legal_name": o.legal_name,
        "country": o.country, "vat_id": o.vat_id, "siren": o.siren, "siret": o.siret, "address": o.address,
        "mfa_required": o.mfa_required, "residency": o.residency or {}, "status": o.status,
        "created_at": o.created_at, "updated_at": o.updated_at,
    }


def project_out(p: Any) -> dict[str, Any]:
    return {"id": p.id, "org_id": p.org_id, "name": p.name, "description": p.description,
            "created_at": p.created_at, "updated_at": p.updated_at}


def user_out(u: Any) -> dict[str, Any]:
    return {
        "id": u.id, "org_id": u.org_id, "name": u.name, "email": u.email, "enabled": u.enabled,
        "totp_enabled": u.totp_enabled, "locked": bool(u.locked_until), "created_at": u.created_at,
    }


def grant_out(g: Any) -> dict[str, Any]:
    return {"id": g.id, "user_id": g.user_id, "role": g.role, "scope_type": g.scope_type,
            "scope_id": g.scope_id, "created_at": g.created_at}


def apikey_out(k: Any) -> dict[str, Any]:
    return {
        "id": k.id, "name": k.name, "prefix": k.prefix, "user_id": k.user_id, "role": k.role,
        "scope_type": k.scope_type, "scope_id": k.scope_id, "created_at": k.created_at,
        "expires_at": k.expires_at, "revoked": k.revoked_at is not None,
    }


def region_out(r: Any, zones: list[Any]) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "country": r.country, "legal_entity": r.legal_entity,
            "description": r.description, "zones": [{"id": z.id, "name": z.name} for z in zones],
            "created_at": r.created_at}
