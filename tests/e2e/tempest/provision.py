"""Provision a running Hexagone for Tempest: a customer ``tempest``, one project per worker with a
member and a reader user (roles on the organisation), a small private image of the customer, then
write ``accounts.yaml`` (pre-provisioned credentials, no admin) and ``tempest.conf``.

Two set-ups (``TEMPEST_SETUP``), both documented in docs/openstack-compatibility.md:

* ``project`` (default): the accounts are looked up by login in the ``Default`` domain and the
  image is uploaded through the native API by an administrator of the customer.
* ``customer-domain``: as an operator hands a tester accounts of a customer: ``accounts.yaml``
  names the customer's Keystone domain (``domain_name: tempest``, also
  ``default_credentials_domain_name``), and the image is created and uploaded through Glance by
  the test's own member account (a Keystone token scoped to its project in that domain), with no
  administrator of the customer at all; two distinct images (``image_ref``, ``image_ref_alt``).

It also writes a host join token (``join-token``) for the fake-driver agent run.sh starts.

Usage: python provision.py <hexagone url> <operator password> <work dir> [workers]
       python provision.py --wait-for-host <hexagone url> <operator password>
"""

from __future__ import annotations

import os
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PASSWORD = "tempest-passphrase-2026"
HERE = Path(__file__).parent


def keystone_token(c: httpx.Client, user: str, project: str, domain: str) -> dict[str, str]:
    body = {"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": user, "password": PASSWORD, "domain": {"name": domain}}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}},
    }}
    r = c.post("/identity/v3/auth/tokens", json=body)
    r.raise_for_status()
    return {"X-Auth-Token": r.headers["x-subject-token"]}


def glance_image(c: httpx.Client, headers: dict[str, str], disk: bytes, name: str) -> str:
    """Create and upload the image as the tester would: ``openstack image create`` through Glance."""
    r = c.post("/image/v2/images", headers=headers,
               json={"name": name, "disk_format": "qcow2", "container_format": "bare"})
    r.raise_for_status()
    image_id = str(r.json()["id"])
    c.put(f"/image/v2/images/{image_id}/file",
          headers={**headers, "Content-Type": "application/octet-stream"}, content=disk).raise_for_status()
    return image_id


def main(url: str, admin_password: str, work: Path, workers: int) -> None:
    c = httpx.Client(base_url=url, timeout=30)
    setup = os.environ.get("TEMPEST_SETUP", "project")
    if setup not in ("project", "customer-domain"):
        raise SystemExit(f"TEMPEST_SETUP must be project or customer-domain, not {setup!r}")
    domain_line = "  domain_name: 'tempest'\n" if setup == "customer-domain" else ""

    def login(name: str, password: str) -> dict[str, str]:
        r = c.post("/v1/auth/login", json={"username": name, "password": password})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    op = login("admin", admin_password)
    root = c.get("/v1/auth/whoami", headers=op).json()["organisation"]["id"]
    org = c.post(
        "/v1/organisations", headers=op, json={"parent_id": root, "kind": "customer", "name": "tempest"}
    )
    org.raise_for_status()
    org_id = org.json()["id"]
    accounts = []
    for i in range(1, workers + 1):
        c.post("/v1/projects", headers=op, json={"org_id": org_id, "name": f"tempest-{i}"}).raise_for_status()
        for role in ("member", "reader"):
            name = f"tempest-{role}-{i}"
            user = c.post(
                "/v1/users",
                headers=op,
                json={"org_id": org_id, "name": name, "password": PASSWORD, "roles": []},
            )
            user.raise_for_status()
            # an organisation-wide role: Glance image creation needs one (images belong to organisations)
            grant = c.post(
                "/v1/role-grants",
                headers=op,
                json={"user_id": user.json()["id"], "role": role, "scope_type": "org", "scope_id": org_id},
            )
            grant.raise_for_status()
            accounts.append(
                f"- username: '{name}'\n  project_name: 'tempest-{i}'\n  password: '{PASSWORD}'\n"
                f"{domain_line}  roles:\n  - '{role}'\n"
            )
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "cirros.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
        data = disk.read_bytes()
    if setup == "customer-domain":
        owner = keystone_token(c, "tempest-member-1", "tempest-1", "tempest")
        image = {"id": glance_image(c, owner, data, "cirros")}
        image_alt = glance_image(c, owner, data, "cirros-alt")  # distinct images: the image filters run
        flavors = {f["name"]: f["id"] for f in c.get("/v1/flavors", headers=op).json()["items"]}
    else:
        admin = c.post(
            "/v1/users",
            headers=op,
            json={"org_id": org_id, "name": "tempest-image-owner", "password": PASSWORD, "roles": ["admin"]},
        )
        admin.raise_for_status()
        owner = login("tempest-image-owner", PASSWORD)
        image = c.post("/v1/images", headers=owner, json={"name": "cirros", "disk_format": "qcow2"}).json()
        c.put(
            f"/v1/images/{image['id']}/file",
            headers={**owner, "Content-Type": "application/octet-stream"},
            content=data,
        ).raise_for_status()
        flavors = {f["name"]: f["id"] for f in c.get("/v1/flavors", headers=owner).json()["items"]}
        image_alt = image["id"]
    join = c.post("/v1/hosts/join-tokens", headers=op, json={"region": "local"})
    join.raise_for_status()
    (work / "join-token").write_text(join.json()["join_token"])
    (work / "accounts.yaml").write_text("".join(accounts))
    template = string.Template((HERE / "tempest.conf.in").read_text())
    (work / "tempest.conf").write_text(
        template.substitute(
            URL=url, WORK=str(work), IMAGE=image["id"], IMAGE_ALT=image_alt,
            FLAVOR=flavors["tiny"], FLAVOR_ALT=flavors["small"],
            DOMAIN="tempest" if setup == "customer-domain" else "Default",
        )
    )
    print(f"provisioned ({setup}) {len(accounts)} accounts, image {image['id']}, flavors {flavors}")


def wait_for_host(url: str, admin_password: str) -> None:
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/v1/auth/login", json={"username": "admin", "password": admin_password})
    op = {"Authorization": f"Bearer {r.json()['token']}"}
    deadline = time.monotonic() + 60
    while not [h for h in c.get("/v1/hosts", headers=op).json()["items"] if h["status"] == "up"]:
        if time.monotonic() > deadline:
            raise SystemExit("no compute host joined within 60 s: see hexagone.log")
        time.sleep(0.5)


if __name__ == "__main__":
    if sys.argv[1] == "--wait-for-host":
        wait_for_host(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2)
