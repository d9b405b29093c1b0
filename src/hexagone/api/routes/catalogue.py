"""/v1/flavors, /v1/keypairs and /v1/images: the compute catalogue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import FileResponse
from pydantic import Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from hexagone.api.deps import UC, IdemKey, PageQ, page_body
from hexagone.api.idempotency import run_create
from hexagone.api.problems import error_response
from hexagone.api.routing import endpoint, new_router
from hexagone.api.schemas import Strict
from hexagone.api.schemas.catalogue import (
    FlavorAccessOut,
    FlavorAccessPage,
    FlavorOut,
    FlavorPage,
    ImageMemberOut,
    ImageMemberPage,
    ImageOut,
    ImagePage,
    KeypairCreated,
    KeypairOut,
    KeypairPage,
)
from hexagone.compute import flavors, images, keypairs
from hexagone.errors import InvalidInput

router = new_router("/v1", "catalogue")

FlavorName = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
KeyName = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._@-]*$")
Visibility = Literal["private", "shared", "public"]
PropKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
PropInt = Annotated[int, Field(ge=-(2**53), le=2**53)]
PropValue = Annotated[str, StringConstraints(max_length=4096)] | PropInt | float | bool | None
Properties = Annotated[dict[PropKey, PropValue], Field(max_length=128)]


class FlavorIn(Strict):
    name: str = FlavorName
    vcpus: int = Field(ge=1, le=1024)
    ram_mb: int = Field(ge=64, le=16 * 1024 * 1024)
    disk_gb: int = Field(ge=1, le=65536)
    description: str = Field("", max_length=500)
    is_public: bool = True


class FlavorPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str | None = Field(None, max_length=500)
    is_public: bool | None = None
    disabled: bool | None = None


class OrgRef(Strict):
    org_id: str = Field(max_length=36)


class KeypairIn(Strict):
    name: str = KeyName
    public_key: str | None = Field(None, max_length=keypairs.MAX_KEY_LENGTH + 1)


class ImageIn(Strict):
    name: str = Field(min_length=1, max_length=255)
    disk_format: Literal["qcow2", "raw"]
    visibility: Visibility = "private"
    min_disk_gb: int = Field(0, ge=0, le=65536)
    min_ram_mb: int = Field(0, ge=0, le=16 * 1024 * 1024)
    protected: bool = False
    properties: Properties = Field(default_factory=dict)


class ImagePatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=255)
    visibility: Visibility | None = None
    min_disk_gb: int | None = Field(None, ge=0, le=65536)
    min_ram_mb: int | None = Field(None, ge=0, le=16 * 1024 * 1024)
    protected: bool | None = None
    properties: Properties | None = None


#: PUT /v1/images/{id}/file reads the raw stream itself: the document states the body it accepts.
UPLOAD_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}}


def flavor_out(f: Any) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram_mb": f.ram_mb, "disk_gb": f.disk_gb,
            "description": f.description, "is_public": f.is_public, "disabled": f.disabled,
            "created_at": f.created_at}


# --- flavors -------------------------------------------------------------------------------------

@endpoint(router, "POST", "/flavors", permission="flavor.create", status_code=201, response_model=FlavorOut)
def create_flavor(body: FlavorIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Add a flavor to the catalogue (operator only). Sizes never change afterwards."""
    return run_create(uc, idem, "POST", request.url.path, body,
                      lambda: flavor_out(flavors.create_flavor(uc, body.model_dump())))


@endpoint(router, "GET", "/flavors", permission="flavor.read", response_model=FlavorPage)
def list_flavors(
    uc: UC, page: PageQ,
    name: Annotated[str | None, Query(max_length=100)] = None,
    min_vcpus: Annotated[int | None, Query(ge=1, le=1024)] = None,
    min_ram_mb: Annotated[int | None, Query(ge=1, le=16 * 1024 * 1024)] = None,
    min_disk_gb: Annotated[int | None, Query(ge=1, le=65536)] = None,
) -> dict[str, Any]:
    """Public flavors and those shared with your organisation or one above it."""
    filters = {"name": name, "min_vcpus": min_vcpus, "min_ram_mb": min_ram_mb, "min_disk_gb": min_disk_gb}
    items, cursor = flavors.list_flavors(uc, page.limit, page.cursor, filters)
    return page_body([flavor_out(f) for f in items], cursor)


@endpoint(router, "GET", "/flavors/{flavor_id}", permission="flavor.read", response_model=FlavorOut)
def get_flavor(flavor_id: str, uc: UC) -> dict[str, Any]:
    """One flavor, by id or name."""
    return flavor_out(flavors.get_flavor(uc, flavor_id))


@endpoint(router, "PATCH", "/flavors/{flavor_id}", permission="flavor.update", response_model=FlavorOut)
def update_flavor(flavor_id: str, body: FlavorPatch, uc: UC) -> dict[str, Any]:
    return flavor_out(flavors.update_flavor(uc, flavor_id, body.model_dump(exclude_unset=True)))


@endpoint(router, "DELETE", "/flavors/{flavor_id}", permission="flavor.delete", status_code=204)
def delete_flavor(flavor_id: str, uc: UC) -> None:
    """Delete the flavor, or disable it while instances refer to it."""
    flavors.delete_flavor(uc, flavor_id)


@endpoint(router, "GET", "/flavors/{flavor_id}/access", permission="flavor.update",
          response_model=FlavorAccessPage)
def list_flavor_access(flavor_id: str, uc: UC) -> dict[str, Any]:
    rows = flavors.list_access(uc, flavor_id)
    return page_body([{"flavor_id": a.flavor_id, "org_id": a.org_id} for a in rows], None)


@endpoint(router, "POST", "/flavors/{flavor_id}/access", permission="flavor.update", status_code=201,
          response_model=FlavorAccessOut)
def add_flavor_access(flavor_id: str, body: OrgRef, uc: UC) -> dict[str, Any]:
    """Share a restricted flavor with an organisation and its whole subtree."""
    access = flavors.add_access(uc, flavor_id, body.org_id)
    return {"flavor_id": access.flavor_id, "org_id": access.org_id}


@endpoint(router, "DELETE", "/flavors/{flavor_id}/access/{org_id}", permission="flavor.update",
          status_code=204)
def remove_flavor_access(flavor_id: str, org_id: str, uc: UC) -> None:
    flavors.remove_access(uc, flavor_id, org_id)


# --- keypairs ------------------------------------------------------------------------------------

@endpoint(router, "POST", "/keypairs", permission="keypair.create", status_code=201,
          response_model=KeypairCreated)
def create_keypair(body: KeypairIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Import ``public_key``, or generate an ed25519 keypair when it is absent: the answer then holds
    ``private_key``, shown this once and stored nowhere (an idempotent replay answers it as null and
    says so in ``withheld``)."""

    def create() -> dict[str, Any]:
        key, private_key = keypairs.create_keypair(uc, body.name, body.public_key)
        out = keypairs.keypair_out(key)
        return out if private_key is None else {**out, "private_key": private_key}

    return run_create(uc, idem, "POST", request.url.path, body, create, secret_fields=("private_key",))


@endpoint(router, "GET", "/keypairs", permission="keypair.read", response_model=KeypairPage)
def list_keypairs(
    uc: UC, page: PageQ, name: Annotated[str | None, Query(max_length=255)] = None
) -> dict[str, Any]:
    """Your own keypairs."""
    items, cursor = keypairs.list_keypairs(uc, page.limit, page.cursor, name)
    return page_body([keypairs.keypair_out(k) for k in items], cursor)


@endpoint(router, "GET", "/keypairs/{name}", permission="keypair.read", response_model=KeypairOut)
def get_keypair(name: str, uc: UC) -> dict[str, Any]:
    return keypairs.keypair_out(keypairs.get_keypair(uc, name))


@endpoint(router, "DELETE", "/keypairs/{name}", permission="keypair.delete", status_code=204)
def delete_keypair(name: str, uc: UC) -> None:
    keypairs.delete_keypair(uc, name)


# --- images --------------------------------------------------------------------------------------

@endpoint(router, "POST", "/images", permission="image.create", status_code=201, response_model=ImageOut)
def create_image(body: ImageIn, uc: UC, request: Request, idem: IdemKey = None) -> Any:
    """Create an image record (``queued``) owned by your organisation; then PUT its data to /file."""
    return run_create(uc, idem, "POST", request.url.path, body,
                      lambda: images.image_out(images.create_image(uc, body.model_dump())))


@endpoint(router, "GET", "/images", permission="image.read", response_model=ImagePage)
def list_images(
    uc: UC, page: PageQ,
    name: Annotated[str | None, Query(max_length=255)] = None,
    visibility: Annotated[Visibility | None, Query()] = None,
    status: Annotated[Literal["queued", "saving", "active", "killed"] | None, Query()] = None,
    disk_format: Annotated[Literal["qcow2", "raw"] | None, Query()] = None,
    owner_org_id: Annotated[str | None, Query(max_length=36)] = None,
    member_status: Annotated[Literal["accepted", "pending", "rejected", "all"], Query()] = "accepted",
) -> dict[str, Any]:
    """Public images, your organisations' images and the images shared with you that you accepted
    (``member_status=pending`` lists the offers waiting for your decision)."""
    filters = {"name": name, "visibility": visibility, "status": status, "disk_format": disk_format,
               "owner_org_id": owner_org_id, "member_status": member_status}
    items, cursor = images.list_images(uc, page.limit, page.cursor, filters)
    return page_body([images.image_out(i) for i in items], cursor)


@endpoint(router, "GET", "/images/{image_id}", permission="image.read", response_model=ImageOut)
def get_image(image_id: str, uc: UC) -> dict[str, Any]:
    return images.image_out(images.get_image(uc, image_id))


@endpoint(router, "PATCH", "/images/{image_id}", permission="image.update", response_model=ImageOut)
def update_image(image_id: str, body: ImagePatch, uc: UC) -> dict[str, Any]:
    """Change name, minimums, properties (replaced whole), protection or visibility (public: operator)."""
    return images.image_out(images.update_image(uc, image_id, body.model_dump(exclude_unset=True)))


@endpoint(router, "DELETE", "/images/{image_id}", permission="image.delete", status_code=204)
def delete_image(image_id: str, uc: UC) -> None:
    images.delete_image(uc, image_id)


@endpoint(router, "PUT", "/images/{image_id}/file", permission="image.update", openapi_extra=UPLOAD_BODY,
          response_model=ImageOut)
async def upload_image(image_id: str, uc: UC, request: Request) -> Any:
    """Upload the image data (raw bytes, streamed). It is inspected before the image turns active;
    a refused image is killed and its data removed."""
    length = request.headers.get("content-length")
    if length is not None and not length.isdigit():
        raise InvalidInput("Content-Length must be a number of bytes.")
    upload = await run_in_threadpool(images.begin_upload, uc, image_id, int(length) if length else None)
    size, checksum = await images.receive(upload, request.stream())
    try:
        image = await run_in_threadpool(images.finish_upload, uc, upload, size, checksum)
    except images.ImageRefused as exc:
        request.state.commit_anyway = True  # the image is killed: keep that, and its audit record
        return error_response(request, exc)
    return images.image_out(image)


@endpoint(router, "GET", "/images/{image_id}/file", permission="image.read", response_class=FileResponse,
          produces={"application/octet-stream": {"type": "string", "format": "binary"}})
def download_image(image_id: str, uc: UC) -> FileResponse:
    """The image data, streamed from disk; ``Repr-Digest`` carries its SHA-256."""
    image, path = images.download(uc, image_id)
    return FileResponse(path, media_type="application/octet-stream",
                        filename=f"{image.id}.{image.disk_format}",
                        headers={"Repr-Digest": images.digest_header(image)})


@endpoint(router, "GET", "/images/{image_id}/members", permission="image.read",
          response_model=ImageMemberPage)
def list_image_members(image_id: str, uc: UC) -> dict[str, Any]:
    rows = images.list_members(uc, image_id)
    return page_body([images.member_out(m) for m in rows], None)


@endpoint(router, "POST", "/images/{image_id}/members", permission="image.update", status_code=201,
          response_model=ImageMemberOut)
def add_image_member(image_id: str, body: OrgRef, uc: UC) -> dict[str, Any]:
    """Offer a ``shared`` image to one organisation (its members see it once that organisation
    accepts; its subtree does not). The membership is ``pending`` until then."""
    return images.member_out(images.add_member(uc, image_id, body.org_id))


@endpoint(router, "POST", "/images/{image_id}/members/{org_id}/accept", permission="image.create",
          response_model=ImageMemberOut)
def accept_image_member(image_id: str, org_id: str, uc: UC) -> dict[str, Any]:
    """The receiving organisation accepts an image offered to it: listed, found by name, bootable."""
    return images.member_out(images.set_member_status(uc, image_id, org_id, "accepted"))


@endpoint(router, "POST", "/images/{image_id}/members/{org_id}/reject", permission="image.create",
          response_model=ImageMemberOut)
def reject_image_member(image_id: str, org_id: str, uc: UC) -> dict[str, Any]:
    """The receiving organisation rejects an image offered to it (it can accept it later)."""
    return images.member_out(images.set_member_status(uc, image_id, org_id, "rejected"))


@endpoint(router, "DELETE", "/images/{image_id}/members/{org_id}", permission="image.update", status_code=204)
def remove_image_member(image_id: str, org_id: str, uc: UC) -> None:
    images.remove_member(uc, image_id, org_id)
