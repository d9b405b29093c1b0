"""Glance v2 (``/image``) over ``hexagone.compute.images``: the same records, visibility, sharing
and inspection of uploads. Images belong to organisations (Glance ``owner`` is the organisation
id, and so is a member's ``member_id``). Members follow Glance: an offer is ``pending`` until the
member organisation accepts it (``PUT /v2/images/{id}/members/{member_id}``); the image list shows
shared images by ``member_status`` (``accepted`` by default)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hexagone.api.deps import UC
from hexagone.api.routing import PUBLIC, endpoint
from hexagone.compute import images
from hexagone.db.compute_models import Image
from hexagone.errors import InvalidInput, NotFound
from hexagone.identity.orgs import load_project, project_target
from hexagone.openstack import errors, views
from hexagone.openstack.catalog import base_url, iso_seconds
from hexagone.openstack.routing import GlanceRoute, new_router
from hexagone.usecase import UseCase

router = new_router("/image", "openstack-image", GlanceRoute)
VERSIONS = ("2.16", "2.15", "2.9", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0")
CORE = {
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "min_disk",
    "min_ram",
    "protected",
    "tags",
    "id",
    "os_hidden",
}
READ_ONLY = {
    "status",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
}


def _versions(request: Request) -> dict[str, Any]:
    href = f"{base_url(request)}/image/v2/"
    return {
        "versions": [
            {
                "id": f"v{v}",
                "status": "CURRENT" if i == 0 else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for i, v in enumerate(VERSIONS)
        ]
    }


@endpoint(router, "GET", "", permission=PUBLIC)
def versions(request: Request) -> JSONResponse:
    return JSONResponse(_versions(request), status_code=300)


@endpoint(router, "GET", "/", permission=PUBLIC)
def versions_slash(request: Request) -> JSONResponse:
    return JSONResponse(_versions(request), status_code=300)


@endpoint(router, "GET", "/versions", permission=PUBLIC)
def versions_200(request: Request) -> dict[str, Any]:
    return _versions(request)


def _all(uc: UseCase, member_status: str = "accepted") -> list[Image]:
    out: list[Image] = []
    cursor = None
    while True:
        batch, cursor = images.list_images(uc, 1000, cursor, {"member_status": member_status})
        out.extend(batch)
        if cursor is None:
            return out


def _matches(value: Any, wanted: str) -> bool:
    if wanted.startswith("in:"):
        return str(value) in wanted[3:].split(",")
    return str(value) == wanted


@endpoint(router, "GET", "/v2/images", permission="image.read")
def list_images(uc: UC, request: Request) -> dict[str, Any]:
    """Filters: name, id (also ``in:a,b``), visibility, status, disk_format, member_status (shared
    images: accepted by default, pending, rejected or all); marker/limit; newest first."""
    q = request.query_params
    items = [views.image(i) for i in reversed(_all(uc, q.get("member_status") or "accepted"))]
    for key in ("name", "id", "visibility", "status", "disk_format", "container_format", "owner"):
        if q.get(key) and not (key == "visibility" and q[key] == "all"):
            items = [i for i in items if _matches(i.get(key), q[key])]
    if q.get("marker"):
        ids = [i["id"] for i in items]
        if q["marker"] not in ids:
            raise InvalidInput(f"Invalid marker: image {q['marker'][:64]} could not be found.")
        items = items[ids.index(q["marker"]) + 1 :]
    limit_raw = q.get("limit", "25")
    if not limit_raw.isdigit():
        raise InvalidInput("limit must be a non-negative integer.")
    limit = min(int(limit_raw), 1000)
    out: dict[str, Any] = {"images": items[:limit], "first": "/v2/images", "schema": "/v2/schemas/images"}
    if len(items) > limit and limit:
        out["next"] = f"/v2/images?marker={items[limit - 1]['id']}&limit={limit}"
    return out


def _changes(spec: dict[str, Any]) -> dict[str, Any]:
    """Glance attributes -> native image fields (extra string attributes become properties)."""
    out: dict[str, Any] = {}
    if spec.get("visibility") is not None:
        if spec["visibility"] not in ("private", "shared", "public"):
            raise InvalidInput(
                f"Invalid visibility {str(spec['visibility'])[:20]!r}: use private, shared or public "
                "(community images are not supported)."
            )
        out["visibility"] = spec["visibility"]
    for glance_key, native in (("min_disk", "min_disk_gb"), ("min_ram", "min_ram_mb")):
        if spec.get(glance_key) is not None:
            if not isinstance(spec[glance_key], int) or spec[glance_key] < 0:
                raise InvalidInput(f"{glance_key} must be a non-negative integer.")
            out[native] = spec[glance_key]
    if spec.get("protected") is not None:
        out["protected"] = bool(spec["protected"])
    if spec.get("name") is not None:
        if not isinstance(spec["name"], str) or len(spec["name"]) > 255:
            raise InvalidInput("Invalid input for field/attribute name: a string of at most 255 characters.")
        out["name"] = spec["name"]
    extra = {k: v for k, v in spec.items() if k not in CORE and k not in READ_ONLY}
    bad = [k for k, v in extra.items() if not isinstance(v, str) or len(k) > 255]
    if bad:
        raise InvalidInput(
            f"Additional properties must be strings, named in at most 255 characters: {', '.join(sorted(bad))[:100]}."
        )
    if extra:
        out["properties"] = extra
    return out


@endpoint(router, "POST", "/v2/images", permission="image.create", status_code=201)
def create_image(uc: UC, body: dict[str, Any] = Body(...)) -> JSONResponse:
    if not isinstance(body, dict):
        raise InvalidInput("Send the image attributes as a JSON object.")
    if body.get("id") is not None:
        raise InvalidInput("Choosing an image id is not supported: leave 'id' out.")
    disk_format = body.get("disk_format") or "raw"
    if disk_format not in ("qcow2", "raw"):
        raise InvalidInput(f"Invalid disk format {str(disk_format)[:20]!r}: use qcow2 or raw.")
    if body.get("container_format") not in (None, "bare"):
        raise InvalidInput("Only the 'bare' container format is supported.")
    data = {"name": "", "disk_format": disk_format, **_changes(body)}
    data["properties"] = data.get("properties") or {}
    image = images.create_image(uc, data)
    return JSONResponse(views.image(image), status_code=201)


@endpoint(router, "GET", "/v2/images/{image_id}", permission="image.read")
def get_image(image_id: str, uc: UC) -> dict[str, Any]:
    return views.image(images.get_image(uc, image_id))


@endpoint(router, "PATCH", "/v2/images/{image_id}", permission="image.update")
async def update_image(image_id: str, uc: UC, request: Request) -> dict[str, Any]:
    """JSON patch (``application/openstack-images-v2.1-json-patch``): replace/add/remove of
    attributes; removing a core attribute is refused."""
    try:
        ops = await request.json()
    except ValueError as exc:
        raise InvalidInput("The body is not a JSON patch (a list of operations).") from exc
    if not isinstance(ops, list):
        raise InvalidInput("The body is not a JSON patch (a list of operations).")

    def apply() -> dict[str, Any]:
        image = images.get_image(uc, image_id)
        props = {k: v for k, v in (image.properties or {}).items()}
        spec: dict[str, Any] = {}
        for op in ops:
            if not isinstance(op, dict) or op.get("op") not in ("replace", "add", "remove"):
                raise InvalidInput(
                    "Each operation is {'op': 'replace'|'add'|'remove', 'path': '/attr', ...}."
                )
            key = str(op.get("path", "")).lstrip("/")
            if key in READ_ONLY or key in ("id", "disk_format", "container_format", "tags"):
                raise InvalidInput(f"Attribute '{key[:40]}' is read-only here.")
            if op["op"] == "remove":
                if key in CORE:
                    raise InvalidInput(f"Attribute '{key[:40]}' cannot be removed.")
                props.pop(key, None)
            elif key in CORE:
                spec[key] = op.get("value")
            else:
                if not isinstance(op.get("value"), str):
                    raise InvalidInput("Additional properties must be strings.")
                props[key] = op["value"]
        changes = _changes(spec)
        changes["properties"] = props
        return views.image(images.update_image(uc, image_id, changes))

    return await run_in_threadpool(apply)


@endpoint(router, "DELETE", "/v2/images/{image_id}", permission="image.delete", status_code=204)
def delete_image(image_id: str, uc: UC) -> Response:
    images.delete_image(uc, image_id)
    return Response(status_code=204)


@endpoint(router, "PUT", "/v2/images/{image_id}/file", permission="image.update", status_code=204)
async def upload(image_id: str, uc: UC, request: Request) -> Response:
    """The image data, streamed and inspected before the image turns active (a refused upload
    leaves the image ``killed``)."""
    length = request.headers.get("content-length")
    if length is not None and not length.isdigit():
        raise InvalidInput("Content-Length must be a number of bytes.")
    pending = await run_in_threadpool(images.begin_upload, uc, image_id, int(length) if length else None)
    size, checksum = await images.receive(pending, request.stream())
    try:
        await run_in_threadpool(images.finish_upload, uc, pending, size, checksum)
    except images.ImageRefused as exc:
        request.state.commit_anyway = True
        return errors.from_error("glance", exc)
    return Response(status_code=204)


@endpoint(router, "GET", "/v2/images/{image_id}/file", permission="image.read")
def download(image_id: str, uc: UC) -> Response:
    image = images.get_image(uc, image_id)
    if image.status != "active":
        return Response(status_code=204)
    image, path = images.download(uc, image_id)
    return FileResponse(
        path, media_type="application/octet-stream", headers={"Repr-Digest": images.digest_header(image)}
    )


# --- members ---------------------------------------------------------------------------------------

def _member(m: Any) -> dict[str, Any]:
    return {
        "image_id": m.image_id, "member_id": m.org_id, "status": m.status,
        "created_at": iso_seconds(m.created_at), "updated_at": iso_seconds(m.updated_at or m.created_at),
        "schema": "/v2/schemas/member",
    }


def _body_field(body: Any, key: str) -> str:
    if not isinstance(body, dict) or not isinstance(body.get(key), str):
        raise InvalidInput(f"Send {{\"{key}\": \"...\"}} as a JSON object.")
    return str(body[key])[:64]


def _as_member_org(uc: UseCase, member_id: str) -> str:
    """The member organisation named by ``member_id``: an organisation id, or a project the caller
    can see (``openstack image set --accept`` names the token's project), taken as its organisation."""
    try:
        project = load_project(uc, member_id)
        uc.authorize(project_target(project), "project.read", what="project")
    except NotFound:
        return member_id
    return project.org_id


@endpoint(router, "GET", "/v2/images/{image_id}/members", permission="image.read")
def list_members(image_id: str, uc: UC) -> dict[str, Any]:
    return {"members": [_member(m) for m in images.list_members(uc, image_id)], "schema": "/v2/schemas/members"}


@endpoint(router, "POST", "/v2/images/{image_id}/members", permission="image.update")
def add_member(image_id: str, uc: UC, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Offer the image to an organisation (``member``: its id); pending until it accepts."""
    return _member(images.add_member(uc, image_id, _body_field(body, "member")))


@endpoint(router, "GET", "/v2/images/{image_id}/members/{member_id}", permission="image.read")
def get_member(image_id: str, member_id: str, uc: UC) -> dict[str, Any]:
    return _member(images.get_member(uc, image_id, _as_member_org(uc, member_id)))


@endpoint(router, "PUT", "/v2/images/{image_id}/members/{member_id}", permission="image.create")
def update_member(image_id: str, member_id: str, uc: UC, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """The member organisation accepts, rejects or sets back to pending an image offered to it."""
    status = _body_field(body, "status")
    if status not in images.MEMBER_STATUSES:
        raise InvalidInput("status must be accepted, rejected or pending.")
    return _member(images.set_member_status(uc, image_id, _as_member_org(uc, member_id), status))


@endpoint(router, "DELETE", "/v2/images/{image_id}/members/{member_id}", permission="image.update",
          status_code=204)
def remove_member(image_id: str, member_id: str, uc: UC) -> Response:
    images.remove_member(uc, image_id, member_id)
    return Response(status_code=204)
