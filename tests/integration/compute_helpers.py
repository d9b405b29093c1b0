"""Helpers for compute tests: a tenant with a project, a flavor, an active image, a fake host."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexagone.audit.service import Actor
from hexagone.bootstrap import Runtime, ensure_catalogue, local_join_token
from hexagone.compute import hosts
from hexagone.db.compute_models import Flavor
from hexagone.ids import new_id
from hexagone.usecase import UseCase
from tests.helpers import Api, Session


@dataclass
class Tenant:
    admin: Session
    member: Session
    org: dict[str, Any]
    project: dict[str, Any]
    image_id: str


def small_qcow2(tmp: Path) -> bytes:
    path = tmp / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    return path.read_bytes()


def upload_image(s: Session, data: bytes, name: str = "cirros", visibility: str = "private") -> str:
    img = s.ok("POST", "/v1/images", {"name": name, "disk_format": "qcow2", "visibility": visibility})
    r = s.client.put(f"/v1/images/{img['id']}/file", content=data,
                     headers={**s.headers, "Content-Type": "application/octet-stream"})
    assert r.status_code in (200, 204), r.text
    return str(img["id"])


def tenant(api: Api, rt: Runtime, tmp: Path) -> Tenant:
    ensure_catalogue(rt, None)
    op = api.admin()
    org = api.org(op, api.root_id(op), "customer")
    project = api.project(op, org["id"])
    _, admin = api.user(op, org["id"], ["admin"])
    _, member = api.user(op, org["id"], ["member"])
    image_id = upload_image(admin, small_qcow2(tmp))
    return Tenant(admin, member, org, project, image_id)


def add_flavor(rt: Runtime, name: str, vcpus: int, ram_mb: int, disk_gb: int) -> None:
    with rt.db.write() as session:
        session.add(Flavor(id=new_id(), name=name, vcpus=vcpus, ram_mb=ram_mb, disk_gb=disk_gb, is_public=True,
                           description="", disabled=False, created_at=rt.clock.now()))


def fake_host(rt: Runtime, name: str, vcpus: int = 8, ram_mb: int = 16384, disk_gb: int = 200,
              capabilities: dict[str, Any] | None = None) -> str:
    """Join a host without an agent (its instances stay BUILDING): for placement tests."""
    token = local_join_token(rt)
    with rt.db.write() as session:
        uc = UseCase(session=session, now=rt.clock.now(), settings=rt.settings, hasher=rt.hasher, actor=Actor())
        host, _ = hosts.join(uc, token, name, {"vcpus": vcpus, "ram_mb": ram_mb, "disk_gb": disk_gb,
                                               "capabilities": capabilities or {"accel": "fake"}})
        host.cpu_ratio = 1.0
        return host.id


def server_body(t: Tenant, name: str = "vm1", flavor: str = "tiny", **extra: Any) -> dict[str, Any]:
    return {"project_id": t.project["id"], "name": name, "flavor": flavor, "image": t.image_id, **extra}
