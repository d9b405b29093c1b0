"""The OpenStack facade over HTTP (TestClient), on SQLite and PostgreSQL: version documents,
Keystone tokens, microversions, error shapes, and the native API's tenant isolation repeated
through Nova, Glance and Neutron (another customer's id answers exactly like a missing one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from hexagone.bootstrap import Runtime, ensure_catalogue
from hexagone.identity import totp
from hexagone.ids import new_id
from tests.helpers import PASSWORD, Api, Session
from tests.integration.compute_helpers import fake_host, small_qcow2, upload_image

pytestmark = pytest.mark.integration


def auth_body(
    user: str, project: str | None = None, domain: str = "Default", **identity: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": PASSWORD, "domain": {"name": domain}}},
                **identity,
            }
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
    return body


def os_token(client: TestClient, user: str, project: str | None, domain: str = "Default") -> str:
    r = client.post("/identity/v3/auth/tokens", json=auth_body(user, project, domain))
    assert r.status_code == 201, r.text
    return str(r.headers["x-subject-token"])


@dataclass
class Customer:
    org: dict[str, Any]
    project: dict[str, Any]
    admin: Session
    token: str  # Keystone token of a member, scoped to the project
    image_id: str


def customer(api: Api, op: Session, tmp: Path, name: str) -> Customer:
    org = api.org(op, api.root_id(op), "customer", name=name)
    project = api.project(op, org["id"], name=f"{name}-proj")
    _, admin = api.user(op, org["id"], ["admin"], name=f"{name}-admin")
    api.user(op, org["id"], ["member"], name=f"{name}-member")
    image_id = upload_image(admin, small_qcow2(tmp), name=f"{name}-image")
    return Customer(org, project, admin, os_token(api.client, f"{name}-member", project["name"]), image_id)


@pytest.fixture
def world(api: Api, rt: Runtime, tmp_path: Path) -> tuple[Customer, Customer]:
    ensure_catalogue(rt, None)
    fake_host(rt, "host-1", capabilities={"accel": "fake", "network_cidr": "10.200.0.0/24"})
    op = api.admin()
    return customer(api, op, tmp_path, "acme"), customer(api, op, tmp_path, "globex")


def h(token: str, **extra: str) -> dict[str, str]:
    return {"X-Auth-Token": token, **extra}


def create_server(client: TestClient, c: Customer, name: str = "vm1") -> dict[str, Any]:
    flavors = client.get("/compute/v2.1/flavors", headers=h(c.token)).json()["flavors"]
    tiny = next(f["id"] for f in flavors if f["name"] == "tiny")
    r = client.post(
        "/compute/v2.1/servers",
        headers=h(c.token),
        json={"server": {"name": name, "imageRef": c.image_id, "flavorRef": tiny, "networks": "auto"}},
    )
    assert r.status_code == 202, r.text
    return dict(r.json()["server"])


# --- version documents and microversions ------------------------------------------------------


def test_version_documents_are_public(client: TestClient) -> None:
    r = client.get("/identity")
    assert r.status_code == 300 and r.json()["versions"]["values"][0]["id"].startswith("v3")
    assert client.get("/identity/v3").json()["version"]["media-types"][0]["base"] == "application/json"
    versions = client.get("/compute").json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
    for v in versions:
        self_link = v["links"][0]["href"]
        assert client.get(self_link).json()["version"]["links"][0]["href"] == self_link
    assert client.get("/compute/v2.1").json()["version"]["version"] == "2.1"
    r = client.get("/image")
    assert r.status_code == 300 and r.json()["versions"][0]["status"] == "CURRENT"
    assert client.get("/networking").json()["versions"][0]["id"] == "v2.0"


def test_microversions_above_2_1_are_refused_with_406(
    world: tuple[Customer, Customer], client: TestClient
) -> None:
    a, _ = world
    for header in ({"OpenStack-API-Version": "compute 2.2"}, {"X-OpenStack-Nova-API-Version": "2.96"}):
        r = client.get("/compute/v2.1/servers", headers=h(a.token, **header))
        assert r.status_code == 406, r.text
        assert r.json()["notAcceptable"]["code"] == 406
    assert (
        client.get(
            "/compute/v2.1/servers", headers=h(a.token, **{"OpenStack-API-Version": "compute x"})
        ).status_code
        == 400
    )
    for ok in ("2.1", "latest"):
        r = client.get(
            "/compute/v2.1/servers", headers=h(a.token, **{"OpenStack-API-Version": f"compute {ok}"})
        )
        assert r.status_code == 200 and r.headers["openstack-api-version"] == "compute 2.1"


# --- Keystone ----------------------------------------------------------------------------------


def test_token_issue_validate_revoke(world: tuple[Customer, Customer], client: TestClient) -> None:
    a, _ = world
    r = client.post("/identity/v3/auth/tokens", json=auth_body("acme-member", "acme-proj", "acme"))
    assert r.status_code == 201, r.text
    raw, doc = r.headers["x-subject-token"], r.json()["token"]
    assert doc["project"]["id"] == a.project["id"] and doc["project"]["domain"]["name"] == "acme"
    assert doc["user"]["domain"]["id"] == a.org["id"] and doc["methods"] == ["password"]
    assert {x["name"] for x in doc["roles"]} == {"member", "reader"} and doc["issued_at"] < doc["expires_at"]
    assert {s["type"] for s in doc["catalog"]} == {"identity", "compute", "image", "network"}
    assert all(e["region_id"] == "local" for s in doc["catalog"] for e in s["endpoints"])
    validated = client.get("/identity/v3/auth/tokens", headers=h(raw, **{"X-Subject-Token": raw}))
    assert validated.status_code == 200 and validated.json() == r.json()
    assert client.get("/v1/auth/whoami", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert (
        client.get("/identity/v3/auth/projects", headers=h(raw)).json()["projects"][0]["id"]
        == a.project["id"]
    )
    assert (
        client.delete("/identity/v3/auth/tokens", headers=h(raw, **{"X-Subject-Token": raw})).status_code
        == 204
    )
    r = client.get("/compute/v2.1/servers", headers=h(raw))
    assert r.status_code == 401 and "error" in r.json() or "unauthorized" in r.json()


def test_bad_credentials_and_foreign_scopes_are_401(
    world: tuple[Customer, Customer], client: TestClient
) -> None:
    r = client.post(
        "/identity/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "acme-member", "password": "wrong", "domain": {"id": "default"}}
                    },
                }
            }
        },
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == 401
    r = client.post("/identity/v3/auth/tokens", json=auth_body("acme-member", "globex-proj"))
    assert r.status_code == 401
    r = client.post("/identity/v3/auth/tokens", json=auth_body("acme-member", "acme-proj", "globex"))
    assert r.status_code == 401
    unscoped = os_token(client, "acme-member", None)
    r = client.get("/compute/v2.1/servers", headers=h(unscoped))
    assert r.status_code == 401
    doc = client.get("/identity/v3/auth/tokens", headers=h(unscoped, **{"X-Subject-Token": unscoped})).json()
    assert "project" not in doc["token"] and "catalog" not in doc["token"]


def test_another_users_token_cannot_be_validated(
    world: tuple[Customer, Customer], client: TestClient
) -> None:
    a, b = world
    r = client.get("/identity/v3/auth/tokens", headers=h(b.token, **{"X-Subject-Token": a.token}))
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


def test_totp_users_follow_the_receipt_flow(
    api: Api, world: tuple[Customer, Customer], client: TestClient, rt: Runtime
) -> None:
    a, _ = world
    s = api.login("acme-member", PASSWORD)
    secret = s.ok("POST", "/v1/auth/totp", status=201)["secret"]
    step = totp.step_of(rt.clock.now().timestamp())
    s.ok("POST", "/v1/auth/totp/confirm", {"code": totp.code_at(secret, step)}, status=200)
    rt.clock.advance(30)  # type: ignore[attr-defined]
    r = client.post("/identity/v3/auth/tokens", json=auth_body("acme-member", "acme-proj", "acme"))
    assert r.status_code == 401 and r.json()["required_auth_methods"] == [["password", "totp"]]
    receipt = r.headers["openstack-auth-receipt"]
    totp_user = {
        "name": "acme-member",
        "passcode": totp.code_at(secret, step + 1),
        "domain": {"name": "acme"},
    }
    body = {
        "auth": {
            "identity": {"methods": ["totp"], "totp": {"user": totp_user}},
            "scope": {"project": {"id": a.project["id"]}},
        }
    }
    r = client.post("/identity/v3/auth/tokens", json=body, headers={"Openstack-Auth-Receipt": receipt})
    assert r.status_code == 201, r.text
    assert r.json()["token"]["methods"] == ["password", "totp"]
    rt.clock.advance(30)  # type: ignore[attr-defined]
    both = auth_body(
        "acme-member",
        "acme-proj",
        "acme",
        totp={"user": {"name": "acme-member", "passcode": totp.code_at(secret, step + 2)}},
    )
    both["auth"]["identity"]["methods"] = ["password", "totp"]
    assert client.post("/identity/v3/auth/tokens", json=both).status_code == 201


# --- Nova, Glance, Neutron ---------------------------------------------------------------------


def test_server_life_cycle_through_nova(world: tuple[Customer, Customer], client: TestClient) -> None:
    a, _ = world
    created = create_server(client, a)
    sid = created["id"]
    shown = client.get(f"/compute/v2.1/servers/{sid}", headers=h(a.token)).json()["server"]
    assert shown["status"] == "BUILD" and shown["flavor"]["id"] and shown["image"]["id"] == a.image_id
    assert shown["addresses"]["default"][0]["addr"].startswith("10.200.0.")
    r = client.put(f"/compute/v2.1/servers/{sid}", headers=h(a.token), json={"server": {"name": "renamed"}})
    assert (
        r.status_code == 200
        and r.json()["server"]["name"] == "renamed"
        and "key_name" not in r.json()["server"]
    )
    detail = client.get("/compute/v2.1/servers/detail?name=^ren&deleted=False", headers=h(a.token)).json()
    assert [s["id"] for s in detail["servers"]] == [sid]
    ports = client.get(f"/networking/v2.0/ports?device_id={sid}", headers=h(a.token)).json()["ports"]
    assert ports[0]["fixed_ips"][0]["ip_address"] == shown["addresses"]["default"][0]["addr"]
    assert client.delete(f"/compute/v2.1/servers/{sid}", headers=h(a.token)).status_code == 204
    shown = client.get(f"/compute/v2.1/servers/{sid}", headers=h(a.token)).json()["server"]
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:task_state"] == "deleting"


def test_keypairs_at_2_1(world: tuple[Customer, Customer], client: TestClient) -> None:
    a, _ = world
    r = client.post("/compute/v2.1/os-keypairs", headers=h(a.token), json={"keypair": {"name": "k1"}})
    assert r.status_code == 200 and "PRIVATE KEY" in r.json()["keypair"]["private_key"]
    assert r.json()["keypair"]["fingerprint"].count(":") == 15
    again = client.post("/compute/v2.1/os-keypairs", headers=h(a.token), json={"keypair": {"name": "k1"}})
    assert again.status_code == 409 and again.json()["conflictingRequest"]["code"] == 409
    shown = client.get("/compute/v2.1/os-keypairs/k1", headers=h(a.token)).json()["keypair"]
    assert isinstance(shown["id"], int) and shown["deleted"] is False
    assert client.delete("/compute/v2.1/os-keypairs/k1", headers=h(a.token)).status_code == 202


def test_error_shapes(world: tuple[Customer, Customer], client: TestClient) -> None:
    a, _ = world
    r = client.get(f"/compute/v2.1/servers/{new_id()}", headers=h(a.token))
    assert r.status_code == 404 and set(r.json()) == {"itemNotFound"}
    r = client.post("/compute/v2.1/servers", headers=h(a.token), json={"server": {"name": "x"}})
    assert r.status_code == 400 and set(r.json()) == {"badRequest"}
    r = client.post("/compute/v2.1/servers", headers=h(a.token), content=b"{not json")
    assert r.status_code == 400 and set(r.json()) == {"badRequest"}
    assert client.get("/compute/v2.1/servers").status_code == 401
    r = client.get(f"/image/v2/images/{new_id()}", headers=h(a.token))
    assert r.status_code == 404 and r.json()["code"] == 404
    r = client.get(f"/networking/v2.0/networks/{new_id()}", headers=h(a.token))
    assert r.status_code == 404 and "NeutronError" in r.json()
    native = client.get(f"/v1/instances/{new_id()}", headers={"Authorization": f"Bearer {a.token}"})
    assert native.headers["content-type"].startswith("application/problem+json")


def _same_as_missing(client: TestClient, token: str, method: str, path: str, real_id: str, **kw: Any) -> None:
    """404, and the same answer as for a missing id (Neutron's messages name the id: compared with it
    masked)."""
    fake_id = new_id()
    r = client.request(method, path, headers=h(token), **kw)
    fake = client.request(method, path.replace(real_id, fake_id), headers=h(token), **kw)
    assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text}"
    assert (fake.status_code, fake.text.replace(fake_id, "ID")) == (r.status_code, r.text.replace(real_id, "ID"))


def test_another_customer_sees_nothing(
    world: tuple[Customer, Customer], client: TestClient, rt: Runtime, api: Api
) -> None:
    a, b = world
    sid = create_server(client, a)["id"]
    client.post("/compute/v2.1/os-keypairs", headers=h(a.token), json={"keypair": {"name": "secret-key"}})
    op = api.admin()
    restricted = op.ok(
        "POST",
        "/v1/flavors",
        {"name": "acme-only", "vcpus": 1, "ram_mb": 256, "disk_gb": 1, "is_public": False},
    )
    op.ok("POST", f"/v1/flavors/{restricted['id']}/access", {"org_id": a.org["id"]})
    for method, path, kw in (
        ("GET", f"/compute/v2.1/servers/{sid}", {}),
        ("PUT", f"/compute/v2.1/servers/{sid}", {"json": {"server": {"name": "x"}}}),
        ("DELETE", f"/compute/v2.1/servers/{sid}", {}),
        ("POST", f"/compute/v2.1/servers/{sid}/action", {"json": {"os-stop": None}}),
        ("GET", f"/compute/v2.1/servers/{sid}/ips", {}),
        ("GET", f"/image/v2/images/{a.image_id}", {}),
        ("GET", f"/image/v2/images/{a.image_id}/file", {}),
        ("DELETE", f"/image/v2/images/{a.image_id}", {}),
        ("GET", f"/compute/v2.1/flavors/{restricted['id']}", {}),
    ):
        _same_as_missing(
            client,
            b.token,
            method,
            path,
            path.split("/")[-1]
            if "action" not in path and not path.endswith(("ips", "file"))
            else path.split("/")[-2],
            **kw,
        )
    assert client.get("/compute/v2.1/os-keypairs/secret-key", headers=h(b.token)).status_code == 404
    assert client.get("/compute/v2.1/servers/detail", headers=h(b.token)).json()["servers"] == []
    assert client.get("/networking/v2.0/ports", headers=h(b.token)).json()["ports"] == []
    images = client.get("/image/v2/images", headers=h(b.token)).json()["images"]
    assert a.image_id not in [i["id"] for i in images]
    flavors = client.get("/compute/v2.1/flavors/detail?is_public=None", headers=h(b.token)).json()["flavors"]
    assert "acme-only" not in [f["name"] for f in flavors]
    own = client.get("/compute/v2.1/flavors/detail?is_public=None", headers=h(a.token)).json()["flavors"]
    assert "acme-only" in [f["name"] for f in own]
    assert client.get(f"/compute/v2.1/servers/{sid}", headers=h(a.token)).status_code == 200


def test_a_token_sees_only_its_projects_servers(
    world: tuple[Customer, Customer], client: TestClient, api: Api
) -> None:
    a, _ = world
    sid = create_server(client, a)["id"]
    api.project(a.admin, a.org["id"], name="acme-other")
    other = os_token(client, "acme-member", "acme-other", "acme")
    assert client.get(f"/compute/v2.1/servers/{sid}", headers=h(other)).status_code == 404
    assert client.get("/compute/v2.1/servers", headers=h(other)).json()["servers"] == []


def test_glance_create_upload_download_delete(
    world: tuple[Customer, Customer], client: TestClient, tmp_path: Path
) -> None:
    a, _ = world
    r = client.post(
        "/image/v2/images",
        headers=h(a.token),
        json={"name": "mine", "disk_format": "qcow2", "container_format": "bare", "os_distro": "x"},
    )
    assert r.status_code == 201 and r.json()["status"] == "queued" and r.json()["os_distro"] == "x"
    iid = r.json()["id"]
    assert client.get(f"/image/v2/images/{iid}/file", headers=h(a.token)).status_code == 204
    data = small_qcow2(tmp_path)
    r = client.put(
        f"/image/v2/images/{iid}/file",
        headers=h(a.token, **{"Content-Type": "application/octet-stream"}),
        content=data,
    )
    assert r.status_code == 204, r.text
    assert client.get(f"/image/v2/images/{iid}/file", headers=h(a.token)).content == data
    listed = client.get(f"/image/v2/images?id=in:{iid},{a.image_id}&limit=1", headers=h(a.token)).json()
    assert len(listed["images"]) == 1 and listed["next"].startswith("/v2/images?marker=")
    r = client.patch(
        f"/image/v2/images/{iid}",
        headers=h(a.token),
        json=[{"op": "replace", "path": "/name", "value": "renamed"}],
    )
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    assert client.delete(f"/image/v2/images/{iid}", headers=h(a.token)).status_code == 204
    assert client.get(f"/image/v2/images/{iid}", headers=h(a.token)).status_code == 404


def test_networks_and_subnets(world: tuple[Customer, Customer], client: TestClient) -> None:
    a, _ = world
    nets = client.get("/networking/v2.0/networks?name=default", headers=h(a.token)).json()["networks"]
    assert len(nets) == 1 and nets[0]["subnets"]
    assert (
        client.get(f"/networking/v2.0/networks/{nets[0]['id']}", headers=h(a.token)).json()["network"]
        == nets[0]
    )
    subnet = client.get(f"/networking/v2.0/subnets/{nets[0]['subnets'][0]}", headers=h(a.token)).json()[
        "subnet"
    ]
    assert subnet["cidr"] == "10.200.0.0/24" and subnet["network_id"] == nets[0]["id"]
    assert client.get(f"/networking/v2.0/networks?id={new_id()}", headers=h(a.token)).json()["networks"] == []


def test_project_network_records(world: tuple[Customer, Customer], client: TestClient, api: Api) -> None:
    a, b = world
    r = client.post("/networking/v2.0/networks", headers=h(a.token), json={"network": {"name": "net-a"}})
    assert r.status_code == 201, r.text
    net = r.json()["network"]
    assert net["shared"] is False and net["admin_state_up"] is True and net["status"] == "ACTIVE"
    assert net["project_id"] == a.project["id"] and net["subnets"] == []
    nid = net["id"]
    r = client.post(
        "/networking/v2.0/subnets",
        headers=h(a.token),
        json={"subnet": {"network_id": nid, "cidr": "192.168.10.0/24", "ip_version": 4, "name": "s1"}},
    )
    assert r.status_code == 201, r.text
    sub = r.json()["subnet"]
    assert sub["gateway_ip"] == "192.168.10.1"
    assert sub["allocation_pools"] == [{"start": "192.168.10.2", "end": "192.168.10.254"}]
    overlap = client.post(
        "/networking/v2.0/subnets",
        headers=h(a.token),
        json={"subnet": {"network_id": nid, "cidr": "192.168.10.128/25", "ip_version": 4}},
    )
    assert overlap.status_code == 400 and "overlaps with another subnet" in overlap.text
    assert overlap.json()["NeutronError"]["type"] == "HTTPBadRequest"
    # listed (with its subnet) beside the default network, shown, filtered, fields
    listed = client.get("/networking/v2.0/networks", headers=h(a.token)).json()["networks"]
    assert {n["name"] for n in listed} == {"default", "net-a"}
    assert next(n for n in listed if n["id"] == nid)["subnets"] == [sub["id"]]
    shown = client.get(f"/networking/v2.0/networks/{nid}?fields=id&fields=name", headers=h(a.token))
    assert shown.json() == {"network": {"id": nid, "name": "net-a"}}
    assert client.get(f"/networking/v2.0/subnets/{sub['id']}", headers=h(a.token)).json()["subnet"] == sub
    mine = client.get(f"/networking/v2.0/subnets?network_id={nid}", headers=h(a.token)).json()["subnets"]
    assert [s["id"] for s in mine] == [sub["id"]]
    r = client.put(f"/networking/v2.0/networks/{nid}", headers=h(a.token), json={"network": {"name": "n2"}})
    assert r.status_code == 200 and r.json()["network"]["name"] == "n2"
    # another customer, and another project of the same customer: 404 exactly like a missing id
    api.project(a.admin, a.org["id"], name="acme-other")
    other = os_token(client, "acme-member", "acme-other", "acme")
    for token in (b.token, other):
        for method, path, kw in (
            ("GET", f"/networking/v2.0/networks/{nid}", {}),
            ("PUT", f"/networking/v2.0/networks/{nid}", {"json": {"network": {"name": "x"}}}),
            ("DELETE", f"/networking/v2.0/networks/{nid}", {}),
            ("GET", f"/networking/v2.0/subnets/{sub['id']}", {}),
            ("DELETE", f"/networking/v2.0/subnets/{sub['id']}", {}),
        ):
            _same_as_missing(client, token, method, path, path.split("/")[-1], **kw)
        r = client.post(
            "/networking/v2.0/subnets",
            headers=h(token),
            json={"subnet": {"network_id": nid, "cidr": "10.9.0.0/24", "ip_version": 4}},
        )
        assert r.status_code == 404
        names = [n["name"] for n in client.get("/networking/v2.0/networks", headers=h(token)).json()["networks"]]
        assert names == ["default"]
        assert client.get("/networking/v2.0/subnets", headers=h(token)).text.count("192.168.10.") == 0
    # a server naming the record is refused with a clear 400 (records are not attachable yet)
    tiny = next(
        f["id"]
        for f in client.get("/compute/v2.1/flavors", headers=h(a.token)).json()["flavors"]
        if f["name"] == "tiny"
    )
    r = client.post(
        "/compute/v2.1/servers",
        headers=h(a.token),
        json={"server": {"name": "vm", "imageRef": a.image_id, "flavorRef": tiny, "networks": [{"uuid": nid}]}},
    )
    assert r.status_code == 400 and "not available yet" in r.json()["badRequest"]["message"]
    # the default network cannot be changed; deleting a network deletes its subnets
    default_id = next(n["id"] for n in listed if n["name"] == "default")
    assert client.delete(f"/networking/v2.0/networks/{default_id}", headers=h(a.token)).status_code == 403
    assert client.delete(f"/networking/v2.0/networks/{nid}", headers=h(a.token)).status_code == 204
    assert client.get(f"/networking/v2.0/networks/{nid}", headers=h(a.token)).status_code == 404
    assert client.get(f"/networking/v2.0/subnets/{sub['id']}", headers=h(a.token)).status_code == 404


def test_network_requests_are_validated(world: tuple[Customer, Customer], client: TestClient) -> None:
    a, _ = world
    post = client.post
    assert post("/networking/v2.0/networks", headers=h(a.token), json={"network": {"shared": True}}).status_code == 403
    assert post("/networking/v2.0/networks", headers=h(a.token), json={"network": {"mtu": 9000}}).status_code == 400
    nid = post("/networking/v2.0/networks", headers=h(a.token), json={"network": {}}).json()["network"]["id"]
    for bad in (
        {"cidr": "10.0.0.5/24"},
        {"cidr": "10.0.0.0/24", "ip_version": 6},
        {"cidr": "10.0.0.0/24", "gateway_ip": "10.0.1.1"},
        {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]},
        {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.9", "end": "10.0.1.9"}]},
    ):
        r = post("/networking/v2.0/subnets", headers=h(a.token), json={"subnet": {"network_id": nid, **bad}})
        assert r.status_code == 400, (bad, r.text)
    r = post(
        "/networking/v2.0/subnets",
        headers=h(a.token),
        json={"subnet": {"network_id": nid, "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.100"}},
    )
    assert r.json()["subnet"]["allocation_pools"] == [
        {"start": "10.0.0.1", "end": "10.0.0.99"},
        {"start": "10.0.0.101", "end": "10.0.0.254"},
    ]
    r = post(
        "/networking/v2.0/subnets",
        headers=h(a.token),
        json={"subnet": {"network_id": nid, "cidr": "10.1.0.0/28", "ip_version": 4, "gateway_ip": None}},
    )
    assert r.json()["subnet"]["gateway_ip"] is None
    assert r.json()["subnet"]["allocation_pools"] == [{"start": "10.1.0.1", "end": "10.1.0.14"}]


def test_access_addresses_are_recorded_and_normalised(world: tuple[Customer, Customer], client: TestClient) -> None:
    a, _ = world
    tiny = next(
        f["id"]
        for f in client.get("/compute/v2.1/flavors", headers=h(a.token)).json()["flavors"]
        if f["name"] == "tiny"
    )
    server = {"name": "vm", "imageRef": a.image_id, "flavorRef": tiny}
    bad = client.post("/compute/v2.1/servers", headers=h(a.token), json={"server": {**server, "accessIPv4": "::1"}})
    assert bad.status_code == 400 and "accessIPv4" in bad.json()["badRequest"]["message"]
    r = client.post(
        "/compute/v2.1/servers",
        headers=h(a.token),
        json={"server": {**server, "accessIPv4": "1.1.1.1", "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"}},
    )
    sid = r.json()["server"]["id"]
    shown = client.get(f"/compute/v2.1/servers/{sid}", headers=h(a.token)).json()["server"]
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("1.1.1.1", "::babe:dc0c:1602")
    r = client.put(
        f"/compute/v2.1/servers/{sid}",
        headers=h(a.token),
        json={"server": {"accessIPv4": "", "accessIPv6": "::babe:202:202"}},
    )
    assert (r.json()["server"]["accessIPv4"], r.json()["server"]["accessIPv6"]) == ("", "::babe:202:202")
    listed = client.get("/compute/v2.1/servers/detail", headers=h(a.token)).json()["servers"]
    assert [(s["accessIPv4"], s["accessIPv6"]) for s in listed] == [("", "::babe:202:202")]
    # the native API does not show them (they are not part of the instance, nor of its metadata)
    native = a.admin.ok("GET", f"/v1/instances/{sid}")
    assert "babe" not in str(native)


def test_reboot_action_takes_nova_soft_and_hard_types(world: tuple[Customer, Customer], client: TestClient,
                                                       rt: Runtime) -> None:
    from hexagone.db.compute_models import Instance

    a, _ = world
    sid = create_server(client, a)["id"]
    with rt.db.write() as session:
        inst = session.get(Instance, sid)
        assert inst is not None
        inst.state = "RUNNING"
    url = f"/compute/v2.1/servers/{sid}/action"
    assert client.post(url, headers=h(a.token), json={"reboot": {"type": "HARD"}}).status_code == 202
    with rt.db.read() as session:
        assert session.get(Instance, sid).reboot_type == "HARD"  # type: ignore[union-attr]
    assert client.post(url, headers=h(a.token), json={"reboot": {"type": "SOFT"}}).status_code == 202
    with rt.db.read() as session:
        assert session.get(Instance, sid).reboot_type == "SOFT"  # type: ignore[union-attr]
    bad = client.post(url, headers=h(a.token), json={"reboot": {"type": "GENTLE"}})
    assert bad.status_code == 400 and set(bad.json()) == {"badRequest"}
