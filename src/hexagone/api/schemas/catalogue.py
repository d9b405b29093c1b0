"""Responses of /v1/flavors, /v1/keypairs and /v1/images."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hexagone.api.schemas.common import Id, Out, Timestamp, page_of


class FlavorOut(Out):
    id: Id
    name: str = Field(examples=["m1.small"])
    vcpus: int = Field(examples=[1])
    ram_mb: int = Field(examples=[2048])
    disk_gb: int = Field(examples=[20])
    description: str
    is_public: bool
    disabled: bool
    created_at: Timestamp


class FlavorAccessOut(Out):
    flavor_id: Id
    org_id: Id


class KeypairOut(Out):
    id: Id
    name: str = Field(examples=["laptop"])
    user_id: Id
    type: str = Field(examples=["ssh"])
    key_type: str = Field(examples=["ssh-ed25519"])
    public_key: str = Field(examples=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI… alice@laptop"])
    fingerprint: str = Field(examples=["SHA256:7b3Y…"])
    fingerprint_md5: str = Field(examples=["3f:9a:…"])
    created_at: Timestamp


class KeypairCreated(KeypairOut):
    private_key: str | None = Field(
        None, description="Only when the server generated the key: shown this once (null on an idempotent replay)."
    )
    withheld: dict[str, str] | None = Field(
        None, description="On a replay: the secret fields that were not kept, and why."
    )


class ImageOut(Out):
    id: Id
    name: str = Field(examples=["debian-12"])
    owner_org_id: Id | None
    system: bool = Field(description="True for the operator's system images.")
    visibility: Literal["private", "shared", "public"]
    status: Literal["queued", "saving", "active", "killed"]
    disk_format: Literal["qcow2", "raw"]
    container_format: str = Field(examples=["bare"])
    size_bytes: int | None
    virtual_size_bytes: int | None
    checksum_sha256: str | None
    min_disk_gb: int
    min_ram_mb: int
    protected: bool
    properties: dict[str, Any]
    boot: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class ImageMemberOut(Out):
    image_id: Id
    org_id: Id
    status: Literal["pending", "accepted", "rejected"] = Field(
        description="A share is an offer: pending until the receiving organisation accepts or rejects it."
    )
    created_at: Timestamp
    updated_at: Timestamp


FlavorPage = page_of(FlavorOut, "FlavorPage")
FlavorAccessPage = page_of(FlavorAccessOut, "FlavorAccessPage")
KeypairPage = page_of(KeypairOut, "KeypairPage")
ImagePage = page_of(ImageOut, "ImagePage")
ImageMemberPage = page_of(ImageMemberOut, "ImageMemberPage")
