"""``hexagone image``: the image catalogue, streamed uploads and downloads, sharing, local builds.

Uploads and downloads go through the API in 1 MiB chunks (a disk is never read whole into memory);
a download is checked against the API's ``Repr-Digest`` (SHA-256). ``image build`` runs the image
builders of ``hexagone.images`` on this machine, then optionally uploads the disk.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer

from hexagone.cli import resolve
from hexagone.cli.client import ApiClient, api_error
from hexagone.cli.commands.servers import pairs
from hexagone.cli.options import All, Cursor, Limit, Output, drop_none, show_list
from hexagone.cli.output import CONNECTION, GENERIC, USAGE, CliError, note, print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Images: boot disks, private, shared or public.")

COLUMNS = ("id", "name", "status", "visibility", "disk_format", "size_bytes", "system", "owner_org_id")
CHUNK = 1024 * 1024
# the API inspects an upload before it answers
TRANSFER_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=900.0)

ImageRef = Annotated[str, typer.Argument(help="Image name or id.")]
OrgRef = Annotated[str, typer.Argument(help="Organisation name or id.")]
Visibility = Literal["private", "shared", "public"]
DiskFormat = Literal["qcow2", "raw"]
Property = Annotated[list[str] | None, typer.Option("--property", help="Property KEY=VALUE (repeat).")]


def image_id(api: ApiClient, ref: str) -> str:
    if resolve.is_uuid(ref):
        return ref
    return resolve._by_name(api, "/v1/images", "image", ref, "image list")


# --- streaming ---------------------------------------------------------------------------------------
# ApiClient sends JSON; these two move raw bytes over the same connection, token and error table.


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def upload_file(api: ApiClient, iid: str, path: Path) -> dict[str, Any]:
    """PUT the file to ``/v1/images/{id}/file`` in chunks, with its length; the image's new record."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CliError(f"Cannot read {path} ({exc.strerror}): give an existing image file.", USAGE) from exc
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    try:
        response = api._http.put(
            f"/v1/images/{iid}/file", content=_chunks(path), headers=headers, timeout=TRANSFER_TIMEOUT
        )
    except httpx.TransportError as exc:
        raise CliError(
            f"The upload to {api.base_url} failed ({type(exc).__name__}): check the server and retry "
            "(the image stays queued until an upload succeeds).",
            CONNECTION,
        ) from exc
    if response.status_code >= 400:
        raise api_error(response)
    body: dict[str, Any] = response.json()
    return body


def _expected_sha256(header: str | None) -> str | None:
    """``sha-256=:<base64>:`` (RFC 9530) as hex, or None."""
    for part in (header or "").split(","):
        algo, _, value = part.strip().partition("=")
        if algo == "sha-256" and value.startswith(":") and value.endswith(":"):
            return base64.b64decode(value.strip(":")).hex()
    return None


def download_file(api: ApiClient, iid: str, dest: Path | None) -> tuple[int, str]:
    """Stream the image data to ``dest`` (standard output when None); (bytes, sha256) once verified."""
    digest = hashlib.sha256()
    size = 0
    tmp = dest.with_name(f".{dest.name}.part") if dest else None
    try:
        with api._http.stream("GET", f"/v1/images/{iid}/file", timeout=TRANSFER_TIMEOUT) as response:
            if response.status_code >= 400:
                response.read()
                raise api_error(response)
            expected = _expected_sha256(response.headers.get("repr-digest"))
            with tmp.open("wb") if tmp else os.fdopen(os.dup(sys.stdout.fileno()), "wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
    except httpx.TransportError as exc:
        if tmp:
            tmp.unlink(missing_ok=True)
        raise CliError(f"The download failed ({type(exc).__name__}): retry.", CONNECTION) from exc
    if expected and digest.hexdigest() != expected:
        if tmp:
            tmp.unlink(missing_ok=True)
        raise CliError("The downloaded data does not match the image's SHA-256: retry the download.", GENERIC)
    if tmp and dest:
        os.replace(tmp, dest)
    return size, digest.hexdigest()


# --- catalogue ---------------------------------------------------------------------------------------


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Option("--name", help="Only images of this exact name.")] = None,
    visibility: Annotated[
        Visibility | None, typer.Option("--visibility", help="Only this visibility.")
    ] = None,
    status: Annotated[
        Literal["queued", "saving", "active", "killed"] | None,
        typer.Option("--status", help="Only this status."),
    ] = None,
    member_status: Annotated[
        Literal["accepted", "pending", "rejected", "all"],
        typer.Option("--member-status", help="Images shared with you: accepted (default), pending, rejected, all."),
    ] = "accepted",
    limit: Limit = 100,
    cursor: Cursor = None,
    all_: All = False,
    output: Output = None,
) -> None:
    """Public images, your organisation's images and the images shared with it that it accepted."""
    show_list(
        client(),
        "/v1/images",
        {"name": name, "visibility": visibility, "status": status, "member_status": member_status},
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No image: create one with `hexagone image create NAME --file disk.qcow2`.",
    )


@app.command()
def show(image: ImageRef, output: Output = None) -> None:
    """One image: status, sizes, checksum, properties."""
    api = client()
    print_record(api.get(f"/v1/images/{image_id(api, image)}"), output_format(output))


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Image name.")],
    disk_format: Annotated[DiskFormat, typer.Option("--disk-format", help="qcow2 or raw.")] = "qcow2",
    file: Annotated[Path | None, typer.Option("--file", help="Upload this disk right away.")] = None,
    visibility: Annotated[
        Visibility, typer.Option("--visibility", help="private, shared or public (public: operator).")
    ] = "private",
    min_disk_gb: Annotated[int, typer.Option("--min-disk-gb", min=0, help="Smallest disk it needs.")] = 0,
    min_ram_mb: Annotated[int, typer.Option("--min-ram-mb", min=0, help="Smallest memory it needs.")] = 0,
    protected: Annotated[
        bool, typer.Option("--protected", help="Refuse deletion until unprotected.")
    ] = False,
    prop: Property = None,
    output: Output = None,
) -> None:
    """Create an image record (queued); with --file, upload its data too."""
    api = client()
    body = {
        "name": name,
        "disk_format": disk_format,
        "visibility": visibility,
        "min_disk_gb": min_disk_gb,
        "min_ram_mb": min_ram_mb,
        "protected": protected,
        "properties": pairs(prop, "--property"),
    }
    image = api.post("/v1/images", body)
    fmt = output_format(output)
    say(f"Created image '{image['name']}' ({image['id']}).", fmt)
    if file is not None:
        image = upload_file(api, image["id"], file)
        say(f"Uploaded {file} ({image.get('size_bytes')} bytes); the image is {image['status']}.", fmt)
    elif fmt != "json":
        note(f"Now upload its data: hexagone image upload {image['id']} FILE")
    print_record(image, fmt)


@app.command()
def upload(
    image: ImageRef,
    file: Annotated[Path, typer.Argument(help="The disk file (qcow2 or raw, as created).")],
    output: Output = None,
) -> None:
    """Upload an image's data, streamed; the API inspects it before the image turns active."""
    api = client()
    uploaded = upload_file(api, image_id(api, image), file)
    fmt = output_format(output)
    say(
        f"Uploaded {file} ({uploaded.get('size_bytes')} bytes); image '{uploaded['name']}' is "
        f"{uploaded['status']}.",
        fmt,
    )
    print_record(uploaded, fmt)


@app.command()
def download(
    image: ImageRef,
    file: Annotated[Path, typer.Argument(help="Where to write it ('-' for standard output).")],
) -> None:
    """Download an image's data, streamed and checked against its SHA-256."""
    api = client()
    to_stdout = str(file) == "-"
    size, sha = download_file(api, image_id(api, image), None if to_stdout else file)
    if not to_stdout:
        note(f"Wrote {size} bytes to {file} (sha256 {sha}).")


@app.command()
def delete(
    image: ImageRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: Output = None,
) -> None:
    """Delete an image (refused while protected)."""
    api = client()
    iid = image_id(api, image)
    if not yes:
        typer.confirm(f"Delete image {image}?", abort=True)
    api.delete(f"/v1/images/{iid}")
    say(f"Deleted image {image}.", output_format(output))


@app.command("set")
def set_(
    image: ImageRef,
    visibility: Annotated[
        Visibility | None, typer.Option("--visibility", help="private, shared or public (public: operator).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    min_disk_gb: Annotated[int | None, typer.Option("--min-disk-gb", min=0, help="Smallest disk.")] = None,
    min_ram_mb: Annotated[int | None, typer.Option("--min-ram-mb", min=0, help="Smallest memory.")] = None,
    protected: Annotated[
        bool | None, typer.Option("--protected/--unprotected", help="Refuse or allow deletion.")
    ] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--property", help="Property KEY=VALUE (repeat; replaces them all).")
    ] = None,
    output: Output = None,
) -> None:
    """Change an image's visibility, name, minimums, protection or properties."""
    api = client()
    body = drop_none(
        {
            "visibility": visibility,
            "name": name,
            "min_disk_gb": min_disk_gb,
            "min_ram_mb": min_ram_mb,
            "protected": protected,
            "properties": pairs(prop, "--property") if prop is not None else None,
        }
    )
    if not body:
        raise typer.BadParameter("Give at least one option to change (see --help).")
    updated = api.patch(f"/v1/images/{image_id(api, image)}", body)
    fmt = output_format(output)
    say(f"Updated image '{updated['name']}' (visibility {updated['visibility']}).", fmt)
    print_record(updated, fmt)


# --- sharing -----------------------------------------------------------------------------------------


@app.command()
def share(image: ImageRef, org: OrgRef, output: Output = None) -> None:
    """Offer a 'shared' image to one organisation: its members see it once it accepts (not its subtree)."""
    api = client()
    member = api.post(f"/v1/images/{image_id(api, image)}/members", {"org_id": resolve.org_id(api, org)})
    fmt = output_format(output)
    say(f"Shared image {image} with organisation {org}.", fmt)
    if fmt == "json":
        print_record(member, fmt)


def _decide(image: str, org: str | None, verb: str, output: Any) -> None:
    api = client()
    ref = image if resolve.is_uuid(image) else resolve._by_name(
        api, "/v1/images", "image", image, "image list --member-status pending", member_status="all")
    org_ref = resolve.org_id(api, org) if org else resolve.own_org_id(api)
    member = api.post(f"/v1/images/{ref}/members/{org_ref}/{verb}")
    fmt = output_format(output)
    say(f"Image {image} is {member['status']} by your organisation.", fmt)
    if fmt == "json":
        print_record(member, fmt)


MemberOrg = Annotated[str | None, typer.Option("--org", help="The member organisation (default: yours).")]


@app.command()
def accept(image: ImageRef, org: MemberOrg = None, output: Output = None) -> None:
    """Accept an image another organisation shared with yours: it is then listed and bootable by name."""
    _decide(image, org, "accept", output)


@app.command()
def reject(image: ImageRef, org: MemberOrg = None, output: Output = None) -> None:
    """Reject an image shared with your organisation (it stays hidden; you may accept it later)."""
    _decide(image, org, "reject", output)


@app.command()
def unshare(image: ImageRef, org: OrgRef, output: Output = None) -> None:
    """Stop sharing an image with an organisation."""
    api = client()
    api.delete(f"/v1/images/{image_id(api, image)}/members/{resolve.org_id(api, org)}")
    say(f"Image {image} is no longer shared with organisation {org}.", output_format(output))


@app.command()
def members(image: ImageRef, output: Output = None) -> None:
    """The organisations an image is shared with."""
    api = client()
    show_list(
        api,
        f"/v1/images/{image_id(api, image)}/members",
        {},
        ("org_id", "status", "created_at"),
        limit=1000,
        cursor=None,
        follow=False,
        output=output,
        empty="The image is shared with nobody.",
    )


# --- local builds ------------------------------------------------------------------------------------


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hexagone" / "images"


@app.command()
def build(
    recipe: Annotated[
        Literal["tiny", "debian-12"], typer.Argument(help="tiny (seconds to boot) or debian-12 (slow).")
    ],
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="Build here (default: ~/.cache/hexagone/images/RECIPE)."),
    ] = None,
    upload_: Annotated[bool, typer.Option("--upload", help="Then upload the disk as a new image.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="Name of the uploaded image.")] = None,
    output: Output = None,
) -> None:
    """Build a guest image on this machine (cached per recipe); --upload sends its disk to the API."""
    if upload_ and not name:
        raise CliError("--upload needs --name, the name of the new image.", USAGE)
    out = output_dir or _cache_dir() / recipe
    fmt = output_format(output)
    if fmt != "json":
        note(f"Building the {recipe} image in {out} (cached: nothing to do when already built)...")
    try:
        if recipe == "tiny":
            from hexagone.images.tiny import build_tiny

            manifest = build_tiny(out)
        else:
            from hexagone.images.debian import build_debian12

            manifest = build_debian12(out)
    except Exception as exc:  # a builder fails on missing tools, network or rights: say which
        raise CliError(f"Building the {recipe} image failed: {exc}", GENERIC) from exc
    disk = manifest.disk_path(out)
    built = {
        "recipe": recipe,
        "dir": str(out),
        "disk": str(disk),
        "format": manifest.format,
        "kernel": manifest.kernel,
        "initrd": manifest.initrd,
        "default_user": manifest.default_user,
        "recipe_hash": manifest.recipe,
    }
    say(f"Built {recipe}: {disk}", fmt)
    if not upload_:
        print_record(built, fmt)
        return
    api = client()
    image = api.post(
        "/v1/images",
        {
            "name": name,
            "disk_format": manifest.format,
            "properties": {
                "default_user": manifest.default_user,
                "recipe": manifest.recipe,
                "source": f"hexagone image build {recipe}",
            },
        },
    )
    image = upload_file(api, image["id"], disk)
    say(f"Uploaded the disk as image '{image['name']}' ({image['id']}, {image['status']}).", fmt)
    if manifest.kernel or manifest.initrd:
        note(
            "Note: the kernel and initrd were not uploaded: the native API takes only the disk today, and "
            "this disk boots only with them. The one-machine region (`hexagone up`) registers the tiny "
            "image itself, with its kernel and initrd."
        )
    print_record({**built, "image": image} if fmt == "json" else image, fmt)
