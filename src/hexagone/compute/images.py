"""Guest images: records, uploads inspected before they are trusted, sharing, and system images.

Life of an image: ``queued`` (record created) → upload → ``active``, or ``killed`` when the upload
fails inspection (``hexagone.images.inspect``: backing files, external data files, encryption,
format lies are refused); ``killed`` is final. Files live in ``<data_dir>/images/<id>/``
(``disk.qcow2`` or ``disk.raw``, plus ``vmlinux``, ``initrd.img`` and ``image.json`` for system
images booted directly from a kernel).

Who sees an image: everyone sees ``public`` ones; an organisation's images are seen by those holding
``image.read`` on it (so a reseller sees its customers' images); a ``shared`` image is also seen by
the member organisations (``image_members``). Anyone else gets 404.

Sharing is an offer, as in Glance: a membership starts ``pending`` and only the receiving
organisation turns it ``accepted`` (or ``rejected``). Until it is accepted, the image is visible
to the member by id (to decide), but it is not listed by default, not found by name and cannot be
booted — so nobody can push an image into another organisation's catalogue under a familiar name.
An offer to an organisation that does not exist is stored and answered exactly like one to an
organisation the sharer cannot see (nobody can accept it), so sharing reveals nothing. An image's owner is the caller's
organisation; an operator system image has no owner (``owner_org_id`` NULL, path of the operator).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import math
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import anyio.to_thread
from sqlalchemy import ColumnElement, CursorResult, and_, delete, false, or_, select, update

from hexagone.authz.policy import ROLE_PERMISSIONS, Decision, Principal, Target, decide, visible_scopes
from hexagone.compute import states
from hexagone.db.compute_models import Image, ImageMember, Instance
from hexagone.db.models import Organisation
from hexagone.db.pagination import paginate
from hexagone.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from hexagone.identity.orgs import root_org
from hexagone.ids import is_id, new_id
from hexagone.images.inspect import inspect_image
from hexagone.images.manifest import ImageManifest, load_manifest, write_manifest
from hexagone.settings import Settings
from hexagone.usecase import UseCase

DEFAULT_IMAGE_MAX_BYTES = 20 * 2**30
CHUNK = 1 << 20
MUTABLE = ("name", "min_disk_gb", "min_ram_mb", "properties", "visibility", "protected")


class ImageRefused(InvalidInput):
    """An upload failed inspection; the image is now ``killed`` and that state must be committed."""


def max_upload_bytes(settings: Settings) -> int:
    return int(getattr(settings, "image_max_bytes", DEFAULT_IMAGE_MAX_BYTES))


def image_dir(settings: Settings, image_id: str) -> Path:
    return settings.data_dir / "images" / image_id


def image_files(settings: Settings, image: Image) -> dict[str, Any]:
    """Where an image's files are on this machine: ``disk`` (+ ``kernel``/``initrd`` for direct boot)."""
    base = image_dir(settings, image.id)
    boot = image.boot or {}
    return {
        "directory": str(base), "disk": str(base / f"disk.{image.disk_format}"), "format": image.disk_format,
        "kernel": str(base / boot["kernel"]) if boot.get("kernel") else None,
        "initrd": str(base / boot["initrd"]) if boot.get("initrd") else None,
        "cmdline": str(boot.get("cmdline") or ""),
    }


# --- visibility ----------------------------------------------------------------------------------

def _mine(column: Any, principal: Principal) -> ColumnElement[bool]:
    """Rows whose organisation path the principal may read images of: every organisation under an
    org-level grant, and exactly the organisation of each project it holds a role on."""
    paths, _ = visible_scopes(principal, "image.read")
    exact = [g.scope_path for g in principal.grants
             if g.scope_type == "project" and "image.read" in ROLE_PERMISSIONS.get(g.role, frozenset())]
    conds = [column.startswith(p, autoescape=True) for p in paths]
    if exact:
        conds.append(column.in_(exact))
    return or_(*conds) if conds else false()


MEMBER_STATUSES = ("pending", "accepted", "rejected")
ACCEPTED = ("accepted",)


def _visible(principal: Principal, member_statuses: tuple[str, ...] = ACCEPTED) -> ColumnElement[bool]:
    """Public images, the principal's own, and images shared with it whose membership has one of
    ``member_statuses`` (accepted only, unless the caller asks for offers too)."""
    members = select(ImageMember.image_id).where(
        _mine(ImageMember.org_path, principal), ImageMember.status.in_(member_statuses))
    return or_(Image.visibility == "public", _mine(Image.org_path, principal),
               and_(Image.visibility == "shared", Image.id.in_(members)))


def _not_found() -> NotFound:
    return NotFound("The image does not exist, or you cannot see it: list /v1/images.")


def get_image(uc: UseCase, image_id: str, member_statuses: tuple[str, ...] = MEMBER_STATUSES) -> Image:
    """An image the caller may see by id, shared ones still on offer included (404 otherwise)."""
    principal = uc.require_principal()
    if not is_id(image_id):
        raise _not_found()
    image = uc.session.execute(
        select(Image).where(Image.id == image_id, Image.status != "deleted", _visible(principal, member_statuses))
    ).scalar_one_or_none()
    if image is None:
        raise _not_found()
    return image


def _owned(uc: UseCase, image_id: str, permission: str) -> Image:
    """An image the caller sees (else 404) and may change as its owner (else 403)."""
    image = get_image(uc, image_id)
    try:
        uc.authorize(Target(org_path=image.org_path), permission, what="image")
    except NotFound as exc:
        raise Forbidden("Only the image's organisation may change it; upload your own copy instead.") from exc
    return image


def usable_image(uc: UseCase, image_id_or_name: str) -> Image:
    """The image an instance may boot, by id or name; a shared image only once its membership is
    accepted. Several visible images with the name: the newest of the caller's own organisation
    wins, then the newest system image; otherwise 409."""
    principal = uc.require_principal()
    if is_id(image_id_or_name):
        return get_image(uc, image_id_or_name, ACCEPTED)
    candidates = list(uc.session.execute(
        select(Image).where(Image.name == image_id_or_name, Image.status != "deleted", _visible(principal))
        .order_by(Image.id.desc())
    ).scalars())
    for tier in ([i for i in candidates if i.org_path == principal.org_path and i.owner_org_id],
                 [i for i in candidates if i.owner_org_id is None]):
        if tier:
            return tier[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise _not_found()
    raise Conflict(f"Several images are named '{image_id_or_name}'; give the image's id instead.")


def list_images(uc: UseCase, limit: int, cursor: str | None, filters: dict[str, Any]) -> tuple[
    list[Image], str | None
]:
    """Filters as ``Image`` columns, plus ``member_status`` for images shared with the caller:
    ``accepted`` by default, ``pending``, ``rejected`` or ``all``."""
    principal = uc.require_principal()
    wanted = filters.get("member_status") or "accepted"
    if wanted not in (*MEMBER_STATUSES, "all"):
        raise InvalidInput("member_status must be accepted, pending, rejected or all.")
    stmt = select(Image).where(_visible(principal, MEMBER_STATUSES if wanted == "all" else (wanted,)),
                               Image.status != "deleted")
    for key in ("name", "visibility", "status", "disk_format"):
        if filters.get(key):
            stmt = stmt.where(getattr(Image, key) == filters[key])
    if filters.get("owner_org_id"):
        stmt = stmt.where(Image.owner_org_id == filters["owner_org_id"])
    return paginate(uc.session, stmt, Image.id, limit, cursor)


# --- create, update, delete ----------------------------------------------------------------------

def _may_publish(uc: UseCase, image: Image | None, visibility: str | None) -> None:
    if visibility == "public" and (image is None or image.visibility != "public"):
        principal = uc.require_principal()
        if decide(principal, "image.publish", Target(org_path=principal.root_path)) is not Decision.ALLOW:
            raise Forbidden("Only the operator publishes public images; use visibility 'shared' and members.")


def create_image(uc: UseCase, data: dict[str, Any]) -> Image:
    principal = uc.require_principal()
    try:
        uc.authorize(Target(org_path=principal.org_path), "image.create", what="organisation")
    except NotFound as exc:
        raise Forbidden("Images belong to organisations: creating one needs a member role on your "
                        "organisation, not only on a project.") from exc
    _may_publish(uc, None, data.get("visibility"))
    image = Image(
        id=new_id(), name=data["name"], owner_org_id=principal.org_id, org_path=principal.org_path,
        visibility=data.get("visibility") or "private", status="queued", disk_format=data["disk_format"],
        container_format="bare", min_disk_gb=data.get("min_disk_gb") or 0,
        min_ram_mb=data.get("min_ram_mb") or 0, boot={}, properties=dict(data.get("properties") or {}),
        protected=bool(data.get("protected")), created_at=uc.now, updated_at=uc.now,
    )
    uc.session.add(image)
    uc.session.flush()
    uc.audit("image.create", "image", image.id, principal.org_id, principal.org_path,
             details={"name": image.name, "disk_format": image.disk_format, "visibility": image.visibility})
    return image


def update_image(uc: UseCase, image_id: str, changes: dict[str, Any]) -> Image:
    image = _owned(uc, image_id, "image.update")
    _may_publish(uc, image, changes.get("visibility"))
    for key in MUTABLE:
        if changes.get(key) is not None:
            setattr(image, key, dict(changes[key]) if key == "properties" else changes[key])
    image.updated_at = uc.now
    uc.audit("image.update", "image", image.id, image.owner_org_id, image.org_path,
             details={k: changes[k] for k in sorted(changes) if k in MUTABLE and k != "properties"})
    return image


def delete_image(uc: UseCase, image_id: str) -> None:
    """Remove the image and its files. Refused while protected or booted by a live instance; when
    only deleted instances refer to it, the row stays (status ``deleted``) for their history."""
    image = _owned(uc, image_id, "image.delete")
    if image.protected:
        raise Conflict(f"Image {image.name} is protected; set protected to false before deleting it.")
    refs = select(Instance.id).where(Instance.image_id == image.id)
    if uc.session.execute(refs.where(Instance.state != states.DELETED).limit(1)).first():
        raise Conflict(f"Image {image.name} is used by instances; delete them first.")
    uc.session.execute(delete(ImageMember).where(ImageMember.image_id == image.id))
    if uc.session.execute(refs.limit(1)).first():
        image.status, image.updated_at = "deleted", uc.now
    else:
        uc.session.delete(image)
    uc.audit("image.delete", "image", image.id, image.owner_org_id, image.org_path,
             details={"name": image.name})
    shutil.rmtree(image_dir(uc.settings, image.id), ignore_errors=True)


# --- data: upload and download -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Upload:
    image_id: str
    path: Path
    limit: int


EMPTY_UPLOAD = "The upload is empty: send the image's bytes as the request body (application/octet-stream)."


def begin_upload(uc: UseCase, image_id: str, content_length: int | None) -> Upload:
    """Check the caller may upload, then end the (read-only so far) transaction: no database lock
    is held while the bytes flow. ``finish_upload`` opens the next one."""
    image = _owned(uc, image_id, "image.update")
    if image.status != "queued":
        raise Conflict(f"Image {image.name} is {image.status}; only a queued image accepts data. "
                       "Create a new image record to upload again.")
    limit = max_upload_bytes(uc.settings)
    if content_length == 0:
        raise InvalidInput(EMPTY_UPLOAD)
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"The image is over the {limit}-byte upload limit; upload a smaller image.")
    directory = image_dir(uc.settings, image.id)
    directory.mkdir(parents=True, exist_ok=True)
    upload = Upload(image.id, directory / f".upload-{secrets.token_hex(8)}.part", limit)
    uc.session.rollback()
    return upload


async def receive(upload: Upload, chunks: AsyncIterator[bytes]) -> tuple[int, str]:
    """Stream ``chunks`` to the staging file, at most ``CHUNK`` bytes in memory at a time.
    Returns (size, sha256 hex). Raises PayloadTooLarge over the limit; the file is gone on any error."""
    digest = hashlib.sha256()
    size = 0
    pending = bytearray()
    fd = os.open(upload.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def flush(data: bytes) -> None:
        digest.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > upload.limit:
                raise PayloadTooLarge(
                    f"The image is over the {upload.limit}-byte upload limit; upload a smaller image.")
            pending += chunk
            if len(pending) >= CHUNK:
                data, pending = bytes(pending), bytearray()
                await anyio.to_thread.run_sync(flush, data)
        await anyio.to_thread.run_sync(flush, bytes(pending))
        await anyio.to_thread.run_sync(os.fsync, fd)
    except BaseException:
        os.close(fd)
        upload.path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return size, digest.hexdigest()


def finish_upload(uc: UseCase, upload: Upload, size: int, checksum: str) -> Image:
    """Inspect the received file and make the image ``active``, or ``killed`` (raising ImageRefused).
    An empty upload is refused and the image stays ``queued``: there is nothing to boot from."""
    if size == 0:
        upload.path.unlink(missing_ok=True)
        raise InvalidInput(EMPTY_UPLOAD)
    try:
        claim = update(Image).where(Image.id == upload.image_id, Image.status == "queued").values(
            status="saving", updated_at=uc.now
        ).execution_options(synchronize_session=False)
        if cast(CursorResult[Any], uc.session.execute(claim)).rowcount != 1:
            raise Conflict("Another upload of this image finished first; its data is kept.")
        image = uc.session.get(Image, upload.image_id, populate_existing=True)
        assert image is not None
        try:
            info = inspect_image(upload.path, declared_format=image.disk_format)
        except InvalidInput as exc:
            image.status, image.updated_at = "killed", uc.now
            image.properties = {**(image.properties or {}), "killed_reason": exc.message}
            uc.audit("image.upload", "image", image.id, image.owner_org_id, image.org_path, result="failure",
                     details={"reason": exc.message, "size": size, "sha256": checksum})
            raise ImageRefused(f"The image was refused and is now killed: {exc.message}") from exc
        os.replace(upload.path, image_dir(uc.settings, image.id) / f"disk.{image.disk_format}")
    finally:
        upload.path.unlink(missing_ok=True)
    image.status, image.updated_at = "active", uc.now
    image.size_bytes, image.virtual_size_bytes, image.checksum_sha256 = size, info.virtual_size, checksum
    image.min_disk_gb = max(image.min_disk_gb, math.ceil(info.virtual_size / 1024**3))
    uc.audit("image.upload", "image", image.id, image.owner_org_id, image.org_path,
             details={"size": size, "virtual_size": info.virtual_size, "sha256": checksum})
    return image


def download(uc: UseCase, image_id: str) -> tuple[Image, Path]:
    image = get_image(uc, image_id)
    path = Path(image_files(uc.settings, image)["disk"])
    if image.status != "active" or not path.is_file():
        raise Conflict(f"Image {image.name} is {image.status} and has no data to download.")
    return image, path


def digest_header(image: Image) -> str:
    """RFC 9530 ``Repr-Digest`` value for the image's data."""
    raw = bytes.fromhex(image.checksum_sha256 or "")
    return f"sha-256=:{base64.b64encode(raw).decode()}:"


# --- sharing -------------------------------------------------------------------------------------

def list_members(uc: UseCase, image_id: str) -> list[ImageMember]:
    """The owner sees every member; a member sees only the memberships within its own scope."""
    image = get_image(uc, image_id)
    stmt = select(ImageMember).where(ImageMember.image_id == image.id).order_by(ImageMember.org_id)
    if decide(uc.require_principal(), "image.read", Target(org_path=image.org_path)) is not Decision.ALLOW:
        stmt = stmt.where(_mine(ImageMember.org_path, uc.require_principal()))
    return list(uc.session.execute(stmt).scalars())


def get_member(uc: UseCase, image_id: str, org_id: str) -> ImageMember:
    """One membership, seen by the image's owner or by the member organisation (404 otherwise)."""
    found = [m for m in list_members(uc, image_id) if m.org_id == org_id]
    if not found:
        raise NotFound("This organisation is not a member of the image, or you cannot see it.")
    return found[0]


def add_member(uc: UseCase, image_id: str, org_id: str) -> ImageMember:
    """Offer a ``shared`` image to an organisation: the membership is ``pending`` until that
    organisation accepts it. Any organisation id may be named — including one that does not
    exist, or one the sharer cannot see — and the answer is the same; offering again changes
    nothing."""
    image = _owned(uc, image_id, "image.update")
    if image.visibility != "shared":
        raise Conflict(f"Image {image.name} is {image.visibility}; set its visibility to 'shared' first.")
    if not is_id(org_id):
        raise InvalidInput("org_id must be an organisation id.")
    member = uc.session.get(ImageMember, (image.id, org_id))
    if member is None:
        org = uc.session.get(Organisation, org_id)
        path = org.path if org is not None and org.status != "deleted" else ""
        member = ImageMember(image_id=image.id, org_id=org_id, org_path=path, status="pending",
                             created_at=uc.now, updated_at=uc.now)
        uc.session.add(member)
        uc.session.flush()
        uc.audit("image.member.add", "image", image.id, image.owner_org_id, image.org_path,
                 details={"member_org_id": org_id})
    return member


def set_member_status(uc: UseCase, image_id: str, org_id: str, status: str) -> ImageMember:
    """The receiving organisation accepts, rejects (or sets back to pending) an image offered to
    it; it needs ``image.create`` there (it brings an image into its catalogue). The owner cannot
    decide for it."""
    if status not in MEMBER_STATUSES:
        raise InvalidInput("status must be accepted, rejected or pending.")
    image = get_image(uc, image_id)
    member = uc.session.get(ImageMember, (image.id, org_id)) if is_id(org_id) else None
    if member is None or not member.org_path:
        raise NotFound("This organisation is not a member of the image, or you cannot see it.")
    uc.authorize(Target(org_path=member.org_path), "image.create", what="image membership")
    if member.status != status:
        before = member.status
        member.status, member.updated_at = status, uc.now
        uc.audit("image.member.status", "image", image.id, org_id, member.org_path,
                 details={"from": before, "to": status, "image_org_id": image.owner_org_id})
    return member


def remove_member(uc: UseCase, image_id: str, org_id: str) -> None:
    image = _owned(uc, image_id, "image.update")
    member = uc.session.get(ImageMember, (image.id, org_id)) if is_id(org_id) else None
    if member is None:
        raise NotFound("This organisation is not a member of the image.")
    uc.session.delete(member)
    uc.audit("image.member.remove", "image", image.id, image.owner_org_id, image.org_path,
             details={"member_org_id": org_id})


def member_out(m: ImageMember) -> dict[str, Any]:
    return {"image_id": m.image_id, "org_id": m.org_id, "status": m.status, "created_at": m.created_at,
            "updated_at": m.updated_at or m.created_at}


# --- system images -------------------------------------------------------------------------------

def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _place(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (copy across filesystems). Built files are replaced, never
    rewritten in place, so a link is safe."""
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def register_system_image(uc: UseCase, name: str, directory: Path) -> Image:
    """Register a built image directory (``disk.qcow2``, ``vmlinux``, ``initrd.img``, ``image.json``)
    as a public operator image. Idempotent: the same name, disk checksum and recipe return the
    existing image. A new build under the same name supersedes the older ones, which become private
    to the operator (kept for the instances booted from them). ``uc.principal`` may be None for the
    operator's own tools (bootstrap, CLI on the machine); otherwise it needs ``image.publish``."""
    directory = Path(directory)
    manifest = load_manifest(directory)
    if manifest is None:
        raise InvalidInput(f"{directory} holds no image.json: build the image first.")
    root = root_org(uc)
    if uc.principal is not None:
        uc.authorize_operator(Target(org_path=root.path), "image.publish", doing="publish public images")
    disk = manifest.disk_path(directory)
    info = inspect_image(disk, declared_format=manifest.format)
    checksum = _sha256_file(disk)
    same_name = list(uc.session.execute(
        select(Image).where(Image.owner_org_id.is_(None), Image.name == name, Image.status == "active")
    ).scalars())
    image = next((i for i in same_name if i.checksum_sha256 == checksum
                  and (i.properties or {}).get("recipe") == manifest.recipe), None)
    created = image is None
    if image is None:
        image = Image(
            id=new_id(), name=name, owner_org_id=None, org_path=root.path, visibility="public",
            status="active", disk_format=manifest.format, container_format="bare",
            size_bytes=disk.stat().st_size, virtual_size_bytes=info.virtual_size, checksum_sha256=checksum,
            min_disk_gb=math.ceil(info.virtual_size / 1024**3), min_ram_mb=0, protected=False,
            boot={k: v for k, v in (("kernel", manifest.kernel), ("initrd", manifest.initrd)) if v},
            properties={"source": "system", "recipe": manifest.recipe,
                        "default_user": manifest.default_user, **manifest.details},
            created_at=uc.now, updated_at=uc.now,
        )
        if manifest.kernel:
            image.boot["cmdline"] = manifest.cmdline
        uc.session.add(image)
        uc.session.flush()
    if created or not Path(image_files(uc.settings, image)["disk"]).exists():
        _store(image_dir(uc.settings, image.id), directory, manifest)
    superseded = [old for old in same_name if old is not image and old.visibility == "public"]
    for old in superseded:
        old.visibility, old.updated_at = "private", uc.now
    if created or superseded or image.visibility != "public":
        image.visibility, image.updated_at = "public", uc.now
        uc.audit("image.register", "image", image.id, root.id, root.path,
                 details={"name": name, "sha256": checksum, "recipe": manifest.recipe, "created": created,
                          "superseded": [old.id for old in superseded]})
    return image


def _store(target: Path, directory: Path, manifest: ImageManifest) -> None:
    """Link a built image's files into the store, with an ``image.json`` naming the stored disk."""
    target.mkdir(parents=True, exist_ok=True)
    _place(manifest.disk_path(directory), target / f"disk.{manifest.format}")
    for extra in (manifest.kernel, manifest.initrd):
        if extra:
            _place(directory / extra, target / extra)
    write_manifest(target, dataclasses.replace(manifest, disk=f"disk.{manifest.format}"))


def image_out(image: Image) -> dict[str, Any]:
    return {
        "id": image.id, "name": image.name, "owner_org_id": image.owner_org_id,
        "system": image.owner_org_id is None,
        "visibility": image.visibility, "status": image.status, "disk_format": image.disk_format,
        "container_format": image.container_format, "size_bytes": image.size_bytes,
        "virtual_size_bytes": image.virtual_size_bytes, "checksum_sha256": image.checksum_sha256,
        "min_disk_gb": image.min_disk_gb, "min_ram_mb": image.min_ram_mb, "protected": image.protected,
        "properties": image.properties or {}, "boot": image.boot or {},
        "created_at": image.created_at, "updated_at": image.updated_at,
    }
