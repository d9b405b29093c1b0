"""The compute catalogue through the API, on both databases: flavors (operator-defined, restricted
sharing down the organisation tree), keypairs (import, generate, isolation) and images (inspected
uploads, streamed downloads, sharing, publication, system images)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hexagone.audit.service import Actor
from hexagone.compute import flavors, images
from hexagone.compute.keypairs import generate_ed25519, parse_public_key
from hexagone.db.compute_models import Image, Instance
from hexagone.db.models import AuditEvent, IdempotencyRecord
from hexagone.errors import NotFound
from hexagone.ids import new_id
from hexagone.images.manifest import ImageManifest, write_manifest
from hexagone.settings import Settings
from hexagone.usecase import UseCase

pytestmark = pytest.mark.integration


def _uc(session: Any, rt: Any) -> UseCase:
    return UseCase(session=session, now=rt.clock.now(), settings=rt.settings, hasher=rt.hasher,
                   actor=Actor(name="test", source_ip="local"))


def _tree(api: Any, *admins: str) -> dict[str, Any]:
    """Operator; reseller R with customers C1 and C2; customer D directly under the operator; and an
    administrator (``<org>_admin``) for each organisation named in ``admins``."""
    op = api.admin()
    root = api.root_id(op)
    r = api.org(op, root, "reseller", "R")
    c1, c2 = api.org(op, r["id"], "customer", "C1"), api.org(op, r["id"], "customer", "C2")
    d = api.org(op, root, "customer", "D")
    t = {"op": op, "root": root, "r": r, "c1": c1, "c2": c2, "d": d}
    for key in admins:
        t[f"{key}_admin"] = api.user(op, t[key]["id"], ["admin"])[1]
    return t


def _names(s: Any, path: str) -> set[str]:
    return {item["name"] for item in s.ok("GET", path)["items"]}


def _qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", "create", "-q", *args], check=True)


def _put(s: Any, image_id: str, data: bytes, **headers: str) -> Any:
    return s.client.put(f"/v1/images/{image_id}/file", content=data,
                        headers={**s.headers, "Content-Type": "application/octet-stream", **headers})


def _image(s: Any, name: str = "img", disk_format: str = "qcow2", **extra: Any) -> dict[str, Any]:
    return s.ok("POST", "/v1/images", {"name": name, "disk_format": disk_format, **extra})


@pytest.fixture(scope="module")
def disks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A small real qcow2, and a qcow2 whose backing file is a host file."""
    tmp = tmp_path_factory.mktemp("disks")
    _qemu_img("-f", "qcow2", str(tmp / "good.qcow2"), "16M")
    _qemu_img("-f", "qcow2", "-u", "-b", "/etc/passwd", "-F", "raw", str(tmp / "backed.qcow2"), "16M")
    return {"good": (tmp / "good.qcow2").read_bytes(), "backed": (tmp / "backed.qcow2").read_bytes()}


# --- flavors -------------------------------------------------------------------------------------

FLAVOR = {"name": "m1.small", "vcpus": 1, "ram_mb": 1024, "disk_gb": 10}


def test_only_the_operator_manages_flavors(api):
    t = _tree(api, "r", "c1")
    for s in (t["r_admin"], t["c1_admin"]):
        assert s.post("/v1/flavors", json=FLAVOR).status_code == 403
    f = t["op"].ok("POST", "/v1/flavors", FLAVOR)
    assert t["op"].post("/v1/flavors", json=FLAVOR).status_code == 409
    assert t["c1_admin"].ok("GET", f"/v1/flavors/{f['id']}")["ram_mb"] == 1024
    assert t["c1_admin"].ok("GET", "/v1/flavors/m1.small")["id"] == f["id"]  # by name too
    assert t["c1_admin"].patch(f"/v1/flavors/{f['id']}", json={"description": "x"}).status_code == 403
    assert t["c1_admin"].delete(f"/v1/flavors/{f['id']}").status_code == 403
    assert t["op"].post("/v1/flavors", json={**FLAVOR, "name": "z", "vcpus": 0}).status_code == 422
    t["op"].ok("DELETE", f"/v1/flavors/{f['id']}")
    assert t["op"].get(f"/v1/flavors/{f['id']}").status_code == 404
    # filters and pagination
    op = t["op"]
    for i, (vcpus, ram) in enumerate([(1, 512), (2, 2048), (4, 8192)]):
        op.ok("POST", "/v1/flavors", {"name": f"f{i}", "vcpus": vcpus, "ram_mb": ram, "disk_gb": 5})
    assert _names(op, "/v1/flavors?min_vcpus=2") == {"f1", "f2"}
    assert _names(op, "/v1/flavors?min_ram_mb=4096") == {"f2"}
    assert _names(op, "/v1/flavors?name=f0") == {"f0"}
    page1 = op.ok("GET", "/v1/flavors?limit=2")
    page2 = op.ok("GET", f"/v1/flavors?limit=2&cursor={page1['next_cursor']}")
    assert [f["name"] for f in page1["items"] + page2["items"]] == ["f0", "f1", "f2"]
    assert page2["next_cursor"] is None


def test_restricted_flavor_is_seen_only_by_the_orgs_given_access(api, rt):
    """Shared with C1: C1 sees it, its sibling C2 does not. Shared with reseller R: R and both of
    its customers see it, customer D elsewhere in the tree does not."""
    t = _tree(api, "r", "c1", "c2", "d")
    f = t["op"].ok("POST", "/v1/flavors", {**FLAVOR, "name": "gpu", "is_public": False})
    t["op"].ok("POST", "/v1/flavors", {**FLAVOR, "name": "public"})
    assert t["c1_admin"].get(f"/v1/flavors/{f['id']}").status_code == 404
    t["op"].ok("POST", f"/v1/flavors/{f['id']}/access", {"org_id": t["c1"]["id"]})
    assert _names(t["c1_admin"], "/v1/flavors") == {"gpu", "public"}
    assert _names(t["c2_admin"], "/v1/flavors") == {"public"}
    assert t["c2_admin"].get(f"/v1/flavors/{f['id']}").status_code == 404
    assert _names(t["op"], "/v1/flavors") == {"gpu", "public"}
    access = t["op"].ok("GET", f"/v1/flavors/{f['id']}/access")["items"]
    assert [a["org_id"] for a in access] == [t["c1"]["id"]]
    assert t["c1_admin"].get(f"/v1/flavors/{f['id']}/access").status_code == 403
    with rt.db.read() as session:
        uc = _uc(session, rt)
        assert flavors.usable_flavor(uc, "gpu", f"/{t['root']}/{t['r']['id']}/{t['c1']['id']}/").id == f["id"]
        with pytest.raises(NotFound):
            flavors.usable_flavor(uc, "gpu", f"/{t['root']}/{t['r']['id']}/{t['c2']['id']}/")
    t["op"].ok("DELETE", f"/v1/flavors/{f['id']}/access/{t['c1']['id']}")
    assert t["c1_admin"].get(f"/v1/flavors/{f['id']}").status_code == 404
    # access given to a reseller flows to its customers
    t["op"].ok("POST", f"/v1/flavors/{f['id']}/access", {"org_id": t["r"]["id"]})
    for key in ("r_admin", "c1_admin", "c2_admin"):
        assert t[key].ok("GET", f"/v1/flavors/{f['id']}")["name"] == "gpu", key
    assert t["d_admin"].get(f"/v1/flavors/{f['id']}").status_code == 404
    assert _names(t["d_admin"], "/v1/flavors") == {"public"}


def _instance_using(rt: Any, api: Any, s: Any, flavor_id: str, image_id: str, org: dict[str, Any]) -> str:
    project = api.project(api.admin(), org["id"])
    with rt.db.write() as session:
        from hexagone.db.models import Region

        region = session.execute(select(Region)).scalars().first()
        iid = new_id()
        session.add(Instance(
            id=iid, name="vm", project_id=project["id"], org_id=org["id"], org_path=_org_path(session, org),
            user_id=s.user["id"], flavor_id=flavor_id, image_id=image_id, vcpus=1, ram_mb=1024, disk_gb=10,
            region_id=region.id, state="RUNNING", created_at=rt.clock.now(), updated_at=rt.clock.now(),
        ))
    return iid


def _org_path(session: Any, org: dict[str, Any]) -> str:
    from hexagone.db.models import Organisation

    return session.get(Organisation, org["id"]).path


def test_flavor_and_image_in_use(api, rt, disks):
    """A flavor in use is disabled, not deleted; an image booted by a live instance is kept (409)."""
    t = _tree(api, "c1")
    f = t["op"].ok("POST", "/v1/flavors", FLAVOR)
    img = _image(t["c1_admin"])
    assert _put(t["c1_admin"], img["id"], disks["good"]).status_code == 200
    iid = _instance_using(rt, api, t["c1_admin"], f["id"], img["id"], t["c1"])
    t["op"].ok("DELETE", f"/v1/flavors/{f['id']}")
    assert t["op"].ok("GET", f"/v1/flavors/{f['id']}")["disabled"] is True
    assert t["c1_admin"].get(f"/v1/flavors/{f['id']}").status_code == 404
    assert _names(t["c1_admin"], "/v1/flavors") == set()
    assert t["c1_admin"].delete(f"/v1/images/{img['id']}").status_code == 409
    with rt.db.write() as session:
        session.get(Instance, iid).state = "DELETED"
    t["c1_admin"].ok("DELETE", f"/v1/images/{img['id']}")
    assert t["c1_admin"].get(f"/v1/images/{img['id']}").status_code == 404
    assert not images.image_dir(rt.settings, img["id"]).exists()


# --- keypairs ------------------------------------------------------------------------------------

def test_keypairs(api, rt):
    t = _tree(api, "c1", "c2")
    s = t["c1_admin"]
    _, public = generate_ed25519("laptop")
    k = s.ok("POST", "/v1/keypairs", {"name": "laptop", "public_key": public})
    assert k["fingerprint"] == parse_public_key(public).fingerprint_sha256
    assert k["fingerprint"].startswith("SHA256:") and len(k["fingerprint_md5"].split(":")) == 16
    assert "private_key" not in k
    g = s.ok("POST", "/v1/keypairs", {"name": "made"}, status=201)
    assert g["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert g["public_key"].startswith("ssh-ed25519 ")
    shown = s.ok("GET", "/v1/keypairs/made")
    assert "private_key" not in shown and shown["fingerprint"] == g["fingerprint"]
    assert _names(s, "/v1/keypairs") == {"laptop", "made"}
    # a retried generate answers the same keypair, and the private key was never stored
    h = {"Idempotency-Key": "gen-1"}
    first = s.post("/v1/keypairs", json={"name": "again"}, headers=h).json()
    replay = s.post("/v1/keypairs", json={"name": "again"}, headers=h)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first["id"] and first["private_key"]
    assert replay.json()["private_key"] is None
    with rt.db.read() as session:
        assert all(b"PRIVATE KEY" not in r.body for r in session.execute(select(IdempotencyRecord)).scalars())
    s.ok("DELETE", "/v1/keypairs/laptop")
    assert s.get("/v1/keypairs/laptop").status_code == 404
    # errors and isolation
    a, b = s, t["c2_admin"]
    wrong_type = public.replace("ssh-ed25519", "ssh-rsa")
    for bad in ("ssh-dss AAAA", "ssh-ed25519 !!!", wrong_type, f"{public}\n{public}"):
        r = a.post("/v1/keypairs", json={"name": "bad", "public_key": bad})
        assert r.status_code == 400 and r.json()["detail"].endswith("."), r.text
    a.ok("POST", "/v1/keypairs", {"name": "k", "public_key": public})
    assert a.ok("GET", "/v1/keypairs?name=k")["items"][0]["name"] == "k"
    assert a.post("/v1/keypairs", json={"name": "k", "public_key": public}).status_code == 409
    assert b.get("/v1/keypairs/k").status_code == 404
    assert b.delete("/v1/keypairs/k").status_code == 404
    b.ok("POST", "/v1/keypairs", {"name": "k", "public_key": public})  # names are per user
    assert _names(b, "/v1/keypairs") == {"k"}
    assert _names(a, "/v1/keypairs") == {"made", "again", "k"}


# --- images --------------------------------------------------------------------------------------

def _leftovers(rt: Any, image_id: str) -> list[str]:
    d = images.image_dir(rt.settings, image_id)
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_upload_download_and_size_limit(api, rt, disks, monkeypatch):
    s = _tree(api, "c1")["c1_admin"]
    img = _image(s, "cirros", min_ram_mb=64, properties={"os_distro": "cirros"})
    assert img["status"] == "queued"
    r = _put(s, img["id"], disks["good"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "active" and done["size_bytes"] == len(disks["good"])
    assert done["checksum_sha256"] == hashlib.sha256(disks["good"]).hexdigest()
    assert done["virtual_size_bytes"] == 16 * 2**20 and done["min_disk_gb"] == 1
    got = s.get(f"/v1/images/{img['id']}/file")
    assert got.status_code == 200 and got.content == disks["good"]
    assert got.headers["repr-digest"].startswith("sha-256=:")
    assert _put(s, img["id"], disks["good"]).status_code == 409  # active images do not take new data
    assert _names(s, "/v1/images?status=active&disk_format=qcow2") == {"cirros"}
    assert _names(s, "/v1/images?status=queued") == set()
    files = images.image_files(rt.settings, Image(id=img["id"], disk_format="qcow2", boot={}))
    assert Path(files["disk"]).read_bytes() == disks["good"] and files["kernel"] is None
    # over the limit: 413 from Content-Length, and while streaming a body of unknown length
    if "image_max_bytes" in Settings.model_fields:
        monkeypatch.setattr(rt.settings, "image_max_bytes", 4096)
    else:
        monkeypatch.setattr(images, "DEFAULT_IMAGE_MAX_BYTES", 4096)
    big = _image(s, "big")
    assert _put(s, big["id"], disks["good"]).status_code == 413
    chunks = iter([b"x" * 3000] * 3)  # no Content-Length: counted while streaming
    streamed = s.client.put(f"/v1/images/{big['id']}/file", content=chunks, headers=s.headers)
    assert streamed.status_code == 413
    assert s.ok("GET", f"/v1/images/{big['id']}")["status"] == "queued"
    assert _leftovers(rt, big["id"]) == []


def test_hostile_images_are_killed_and_leave_no_file(api, rt, disks):
    s = _tree(api, "c1")["c1_admin"]
    cases = [("qcow2", "backed", "refers to a backing file"),
             ("raw", "good", "declared raw but is really qcow2")]
    for declared, disk, reason in cases:
        img = _image(s, disk_format=declared)
        r = _put(s, img["id"], disks[disk])
        assert r.status_code == 400, r.text
        assert "refused" in r.json()["detail"] and reason in r.json()["detail"]
        shown = s.ok("GET", f"/v1/images/{img['id']}")
        assert shown["status"] == "killed" and reason in shown["properties"]["killed_reason"]
        assert _leftovers(rt, img["id"]) == []
        assert s.get(f"/v1/images/{img['id']}/file").status_code == 409
        assert _put(s, img["id"], disks["good"]).status_code == 409  # killed is final
        with rt.db.read() as session:
            ev = session.execute(select(AuditEvent).where(AuditEvent.action == "image.upload",
                                                          AuditEvent.resource_id == img["id"])).scalar_one()
            assert ev.result == "failure"


def test_image_visibility_sharing_and_isolation(api):
    t = _tree(api, "r", "c1", "c2", "d")
    owner, member, other = t["c1_admin"], t["c2_admin"], t["d_admin"]
    img = _image(owner, "golden")
    # another tenant's private image is 404 for every verb
    for r in (member.get(f"/v1/images/{img['id']}"), member.get(f"/v1/images/{img['id']}/file"),
              member.patch(f"/v1/images/{img['id']}", json={"name": "x"}),
              member.delete(f"/v1/images/{img['id']}"), _put(member, img["id"], b"data"),
              member.post(f"/v1/images/{img['id']}/members", json={"org_id": t["c2"]["id"]})):
        assert r.status_code == 404, r.request.url
    # sharing: members only once the image is 'shared'; then exactly the member org sees it
    assert owner.post(f"/v1/images/{img['id']}/members", json={"org_id": t["c2"]["id"]}).status_code == 409
    owner.ok("PATCH", f"/v1/images/{img['id']}", {"visibility": "shared"})
    owner.ok("POST", f"/v1/images/{img['id']}/members", {"org_id": t["c2"]["id"]})
    assert member.ok("GET", f"/v1/images/{img['id']}")["name"] == "golden"
    assert _names(member, "/v1/images") == set()  # an offer, until the member organisation accepts it
    member.ok("POST", f"/v1/images/{img['id']}/members/{t['c2']['id']}/accept", status=200)
    assert _names(member, "/v1/images") == {"golden"}
    seen = member.ok("GET", f"/v1/images/{img['id']}/members")["items"]
    assert [m["org_id"] for m in seen] == [t["c2"]["id"]]
    assert member.patch(f"/v1/images/{img['id']}", json={"name": "mine"}).status_code == 403
    assert other.get(f"/v1/images/{img['id']}").status_code == 404
    assert _names(other, "/v1/images") == set()
    assert _names(t["r_admin"], "/v1/images") == {"golden"}  # the reseller sees its customers' images
    owner.ok("DELETE", f"/v1/images/{img['id']}/members/{t['c2']['id']}")
    assert member.get(f"/v1/images/{img['id']}").status_code == 404
    # a user holding a role only on one project of C1 sees C1's images but may not create any
    u, pm = api.user(t["op"], t["c1"]["id"], [])
    project = api.project(t["op"], t["c1"]["id"])
    t["op"].ok("POST", "/v1/role-grants", {"user_id": u["id"], "role": "member", "scope_type": "project",
                                          "scope_id": project["id"]})
    assert pm.ok("GET", f"/v1/images/{img['id']}")["name"] == "golden"
    assert pm.post("/v1/images", json={"name": "x", "disk_format": "raw"}).status_code == 403
    assert pm.patch(f"/v1/images/{img['id']}", json={"name": "x"}).status_code == 403
    # public needs the operator
    public = {"name": "p", "disk_format": "raw", "visibility": "public"}
    assert owner.post("/v1/images", json=public).status_code == 403
    assert owner.patch(f"/v1/images/{img['id']}", json={"visibility": "public"}).status_code == 403
    assert t["op"].ok("PATCH", f"/v1/images/{img['id']}", {"visibility": "public"})["visibility"] == "public"
    assert other.ok("GET", f"/v1/images/{img['id']}")["owner_org_id"] == t["c1"]["id"]
    assert other.patch(f"/v1/images/{img['id']}", json={"name": "mine"}).status_code == 403
    # protected images are not deleted
    owner.ok("PATCH", f"/v1/images/{img['id']}", {"protected": True})
    assert owner.delete(f"/v1/images/{img['id']}").status_code == 409
    owner.ok("PATCH", f"/v1/images/{img['id']}", {"protected": False})
    owner.ok("DELETE", f"/v1/images/{img['id']}")
    assert other.get(f"/v1/images/{img['id']}").status_code == 404


def _built(directory: Path, size: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _qemu_img("-f", "qcow2", str(directory / "disk.qcow2"), size)
    (directory / "vmlinux").write_bytes(b"kernel")
    (directory / "initrd.img").write_bytes(b"initrd")
    write_manifest(directory, ImageManifest(name="tiny", disk="disk.qcow2", format="qcow2", recipe=size,
                                            kernel="vmlinux", initrd="initrd.img", cmdline="console=ttyS0"))
    return directory


def test_system_image_registration_is_idempotent_and_public(api, rt, tmp_path):
    build_a, build_b = _built(tmp_path / "a", "8M"), _built(tmp_path / "b", "12M")

    def register(directory: Path) -> str:
        with rt.db.write() as session:
            return images.register_system_image(_uc(session, rt), "tiny", directory).id

    first_id = register(build_a)
    assert register(build_a) == first_id
    with rt.db.read() as session:
        files = images.image_files(rt.settings, session.get(Image, first_id))
    assert Path(files["kernel"]).read_bytes() == b"kernel" and Path(files["initrd"]).exists()
    assert (Path(files["directory"]) / "image.json").exists()
    t = _tree(api, "c1")
    shown = t["c1_admin"].ok("GET", f"/v1/images/{first_id}")
    assert shown["system"] and shown["visibility"] == "public" and shown["status"] == "active"
    assert shown["boot"] == {"kernel": "vmlinux", "initrd": "initrd.img", "cmdline": "console=ttyS0"}
    assert t["c1_admin"].patch(f"/v1/images/{first_id}", json={"name": "mine"}).status_code == 403

    def visible() -> list[str]:
        return [i["id"] for i in t["c1_admin"].ok("GET", "/v1/images?name=tiny")["items"]]

    # a new build supersedes the old image: customers now see only the new one
    second_id = register(build_b)
    assert second_id != first_id and visible() == [second_id]
    # going back to the first build brings its image back, with its files if they were lost
    shutil.rmtree(files["directory"])
    assert register(build_a) == first_id and visible() == [first_id]
    assert Path(files["disk"]).exists() and Path(files["kernel"]).exists()
