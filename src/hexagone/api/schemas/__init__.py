"""Request and response bodies of the native API /v1. Requests forbid unknown fields."""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

Name = Field(min_length=1, max_length=200)
Role = Literal["owner", "admin", "member", "reader", "billing"]
#: C0 control characters other than tab, newline and carriage return (NUL cannot even be stored
#: by PostgreSQL), and DEL.
_CONTROL = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127))
_CTRL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_ANY, _SOLID, _SPACE = f"[^{_CTRL}]", rf"[^\s{_CTRL}]", rf"[^\S{_CTRL}]"


def _no_control_characters(value: Any) -> Any:
    if isinstance(value, str):
        if not _CONTROL.isdisjoint(value):
            raise ValueError("control characters (such as NUL) are not allowed")
    elif isinstance(value, list):
        for item in value:
            _no_control_characters(item)
    return value


def trimmed_pattern(min_length: int = 0, max_length: int | None = None, pattern: str | None = None) -> str:
    """The regular expression a raw string of a request body must match, stating what the server
    does: no control character anywhere, surrounding whitespace trimmed, then the length bounds
    (or the field's own ``pattern``, whose length bound is folded into it) apply to what remains."""
    if pattern:
        inner = pattern.removeprefix("^").removesuffix("$")
        if max_length is not None and inner.endswith("]*"):  # ^[first][rest]*$: bound the rest
            inner = inner[:-1] + f"{{0,{max_length - 1}}}"
        return rf"^{_SPACE}*(?:{inner}){_SPACE}*$"
    alternatives = [""] if min_length == 0 else []
    if min_length <= 1 and (max_length is None or max_length >= 1):
        alternatives.append(_SOLID)
    if max_length is None or max_length >= 2:
        upper = "" if max_length is None else str(max_length - 2)
        alternatives.append(f"{_SOLID}{_ANY}{{{max(min_length - 2, 0)},{upper}}}{_SOLID}")
    return rf"^{_SPACE}*(?:{'|'.join(alternatives)}){_SPACE}*$"


def _state_string_rules(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string" and not {"enum", "const", "format"} & set(schema):
        schema["pattern"] = trimmed_pattern(schema.pop("minLength", 0), schema.pop("maxLength", None),
                                            schema.get("pattern"))
    for sub in schema.get("anyOf", []):
        _state_string_rules(sub)
    if isinstance(schema.get("items"), dict):
        _state_string_rules(schema["items"])


def _describe(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        _state_string_rules(prop)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(value: Any) -> Any:
    """A date-time exactly as the schema's ``format: date-time`` says (RFC 3339, with its offset):
    no Unix timestamps, no dates alone, no naive times."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("a date-time is written in RFC 3339 with its offset, such as 2026-01-01T00:00:00Z")
    try:
        return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value} is not a date-time that exists") from None


#: A date-time of a request (body or query), with its offset.
Rfc3339 = Annotated[AwareDatetime, BeforeValidator(parse_rfc3339)]

_KINDS: dict[type, tuple[type, ...]] = {bool: (bool,), int: (int, float), float: (int, float)}
_NOUNS = {bool: "true or false", int: "an integer", float: "a number"}


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        others = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = others[0] if len(others) == 1 else None
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _scalar(annotation: Any) -> type | None:
    """bool, int or float when the field is one (or an optional one), else None."""
    annotation = _unwrap(annotation)
    return annotation if annotation in _KINDS else None


def _json_typed(kind: type, value: Any) -> Any:
    """JSON types as the schema states them: no "1" for 1, no 0 for false (pydantic's lax mode would
    take both); 3.0 is the integer 3 (JSON Schema says so), 3.5 is not."""
    if value is None:
        return value
    if isinstance(value, bool) is not (kind is bool) or not isinstance(value, _KINDS[kind]):
        raise ValueError(f"must be {_NOUNS[kind]}")
    if kind is int and isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


class Strict(BaseModel):
    """Base of request bodies: unknown fields refused, JSON types taken as they are (no coercion
    from strings), strings trimmed, control characters refused (before trimming); the published
    schema states all of it (``trimmed_pattern``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_describe)

    @field_validator("*", mode="before")
    @classmethod
    def _as_published(cls, value: Any, info: ValidationInfo) -> Any:
        _no_control_characters(value)
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        kind = _scalar(annotation)
        if kind is not None:
            return _json_typed(kind, value)
        if typing.get_origin(_unwrap(annotation)) is list and isinstance(value, list):
            item = _scalar(typing.get_args(_unwrap(annotation))[0])
            if item is not None:
                return [_json_typed(item, v) for v in value]
        return value


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
    totp_reset: bool | None = Field(None, description="Remove the user's second factor (a lost authenticator).")


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
    expires_at: Rfc3339 | None = Field(None, description="With a timezone, such as 2027-01-01T00:00:00Z.")


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
