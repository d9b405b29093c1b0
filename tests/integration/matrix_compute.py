# ruff: noqa: E501  (the expected table is aligned in columns on purpose)
"""The compute, billing and OpenStack-facade part of the policy matrix: instances, server groups,
quotas, flavors, keypairs, images, hosts and the agents' routes; /v1/billing; the facade's
Keystone, Nova, Neutron and Glance routes.

``build_compute`` adds to a ``World`` one compute host (joined through the API, no agent behind it),
then per tenant an image of its customer (uploaded, ``shared`` with a second customer of the same
tenant), a restricted flavor shared with its reseller, a RUNNING instance in its project (the host
reports it so, through the agent API), a server group and, in tenant B, a keypair. Every tenant B id
joins ``World.b_ids``: none may show up in an answer to tenant A.

Rows use the caller columns of ``test_policy_matrix`` (op own adm mem rea bil pm key anon).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hexagone.bootstrap import ensure_catalogue, local_join_token
from hexagone.compute.keypairs import parse_public_key
from hexagone.db.compute_models import Keypair
from hexagone.ids import new_id
from hexagone.openstack.views import network_id, port_id, subnet_id
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD, agent_report
from tests.integration.matrix_helpers import Req, World, uniq

Build = Callable[[World, str, str], Req]
OCTETS = {"Content-Type": "application/octet-stream"}
CAPABILITIES = {"accel": "fake", "network_cidr": "10.200.0.0/16"}  # instances get an address
BIG_QUOTA = {"instances": 10_000, "vcpus": 100_000, "ram_mb": 2**32, "disk_gb": 2**24}


def public_key(seed: str) -> str:
    """A well-formed ssh-ed25519 public key line (no private half exists; none is needed)."""
    kind = b"ssh-ed25519"
    point = hashlib.sha256(seed.encode()).digest()
    blob = len(kind).to_bytes(4, "big") + kind + len(point).to_bytes(4, "big") + point
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {seed}"


def small_qcow2() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
        return path.read_bytes()


@dataclass
class Side:
    """One tenant's compute resources."""

    second_customer: dict[str, Any]  # the member organisation of the shared image
    image_id: str
    flavor_id: str
    instance_id: str
    group_id: str
    keypair_id: str | None


@dataclass
class Compute:
    host_id: str
    host_credential: str
    qcow2: bytes
    a: Side
    b: Side

    def side(self, which: str) -> Side:
        return self.a if which == "own" else self.b


def _cx(w: World) -> Compute:
    assert w.cx is not None, "build_compute(w) first"
    return w.cx  # type: ignore[no-any-return]


def join_host(w: World, name: str, vcpus: int = 4096) -> tuple[str, str]:
    """(host id, host credential) of a new host joined through the API, with no agent behind it."""
    token = w.op.ok("POST", "/v1/hosts/join-tokens", {"region": "local"})["join_token"]
    r = w.client.post("/v1/agent/join", json={"join_token": token, "name": name, "inventory": {
        "vcpus": vcpus, "ram_mb": vcpus * 4096, "disk_gb": vcpus * 100, "capabilities": CAPABILITIES}})
    assert r.status_code == 201, r.text
    return r.json()["host_id"], r.json()["credential"]


def agent(w: World, credential: str, method: str, path: str, json: Any = None) -> Any:
    return w.client.request(method, path, json=json, headers={"Authorization": f"Bearer {credential}"})


def _image(w: World, which: str, qcow2: bytes | None, visibility: str = "private") -> str:
    """An image of the tenant's customer, uploaded (active) when ``qcow2`` is given, else queued."""
    s = w.tenant(which).keymaker
    img = s.ok("POST", "/v1/images", {"name": uniq("img-"), "disk_format": "qcow2", "visibility": visibility})
    if qcow2 is not None:
        r = s.client.put(f"/v1/images/{img['id']}/file", content=qcow2, headers={**s.headers, **OCTETS})
        assert r.status_code == 200, r.text
    w.remember(which, img["id"])
    return str(img["id"])


def _instance(w: World, which: str, image_id: str) -> str:
    t = w.tenant(which)
    inst = t.keymaker.ok("POST", "/v1/instances", {"project_id": t.project["id"], "name": uniq("vm-"),
                                                   "flavor": "tiny", "image": image_id}, status=202)
    w.remember(which, inst["id"])
    return str(inst["id"])


def _side(w: World, which: str, qcow2: bytes, host_credential: str) -> Side:
    t = w.tenant(which)
    for scope in (f"project/{t.project['id']}", f"org/{t.customer['id']}"):
        w.op.ok("PUT", f"/v1/quotas/{scope}", BIG_QUOTA)
    second = w.fresh_customer(which)
    image_id = _image(w, which, qcow2, visibility="shared")
    t.keymaker.ok("POST", f"/v1/images/{image_id}/members", {"org_id": second["id"]})
    flavor = w.op.ok("POST", "/v1/flavors", {"name": uniq("restricted-"), "vcpus": 1, "ram_mb": 256,
                                             "disk_gb": 1, "is_public": False})
    w.op.ok("POST", f"/v1/flavors/{flavor['id']}/access", {"org_id": t.reseller["id"]})
    w.remember(which, flavor["id"])
    instance_id = _instance(w, which, image_id)
    r = agent_report(w.client, host_credential, [
        {"instance_id": instance_id, "power_state": "RUNNING", "guest_ready": True,
         "console_tail": f"{instance_id} login:"}])
    assert r.status_code == 200 and r.json()["applied"] == 1, r.text
    group = t.keymaker.ok("POST", "/v1/server-groups", {"project_id": t.project["id"], "name": uniq("grp-"),
                                                        "policy": "anti-affinity"})
    w.remember(which, group["id"])
    keypair_id = None
    if which == "other":
        key = t.keymaker.ok("POST", "/v1/keypairs", {"name": uniq("key-"), "public_key": public_key(uniq("b"))})
        keypair_id = key["id"]
        w.remember(which, keypair_id)
    return Side(second, image_id, flavor["id"], instance_id, group["id"], keypair_id)


def build_compute(w: World) -> Compute:
    assert w.rt is not None, "build_world(api, clock, rt) to test compute"
    ensure_catalogue(w.rt, None)
    host_id, credential = join_host(w, uniq("host-"))
    qcow2 = small_qcow2()
    w.cx = Compute(host_id, credential, qcow2, _side(w, "own", qcow2, credential),
                   _side(w, "other", qcow2, credential))
    return w.cx


# --- fresh resources ----------------------------------------------------------------------------

def own_keypair(w: World, caller: str) -> str:
    """The name of a new keypair belonging to the caller's user (written directly: a reader cannot
    create one, but may hold one)."""
    session = w.callers[caller]
    if session is None:
        return uniq("nobody-key-")
    name, line = uniq("key-"), public_key(uniq("own"))
    key = parse_public_key(line)
    with w.rt.db.write() as db:
        db.add(Keypair(id=new_id(), user_id=session.user["id"], org_path="/", name=name, public_key=key.openssh,
                       fingerprint=key.fingerprint_sha256, type="ssh", created_at=w.rt.clock.now()))
    return name


def fresh_flavor(w: World, which: str, share_with: str) -> dict[str, Any]:
    f = w.op.ok("POST", "/v1/flavors", {"name": uniq("fresh-f"), "vcpus": 1, "ram_mb": 256, "disk_gb": 1,
                                        "is_public": False})
    w.op.ok("POST", f"/v1/flavors/{f['id']}/access", {"org_id": share_with})
    w.remember(which, f["id"])
    return f  # type: ignore[no-any-return]


def _share_flavor_with_second(w: World, which: str) -> Req:
    side = _cx(w).side(which)
    w.op.ok("POST", f"/v1/flavors/{side.flavor_id}/access", {"org_id": side.second_customer["id"]})
    return Req(f"/v1/flavors/{side.flavor_id}/access/{side.second_customer['id']}")


def _image_member_to_remove(w: World, which: str) -> Req:
    side = _cx(w).side(which)
    w.tenant(which).keymaker.ok("POST", f"/v1/images/{side.image_id}/members", {"org_id": side.second_customer["id"]})
    return Req(f"/v1/images/{side.image_id}/members/{side.second_customer['id']}")


def _instance_body(w: World, which: str) -> dict[str, Any]:
    return {"project_id": w.tenant(which).project["id"], "name": uniq("vm-"), "flavor": "tiny",
            "image": _cx(w).side(which).image_id}


def _join(w: World) -> Req:
    return Req("/v1/agent/join", {"join_token": local_join_token(w.rt), "name": uniq("joined-"),
                                  "inventory": {"vcpus": 0, "ram_mb": 0, "disk_gb": 0}})


def _upload(w: World, which: str) -> Req:
    return Req(f"/v1/images/{_image(w, which, None)}/file", content=_cx(w).qcow2, headers=OCTETS)


#: the host's own inventory: a request that got through would change nothing.
INVENTORY = {"vcpus": 4096, "ram_mb": 4096 * 4096, "disk_gb": 409600, "capabilities": CAPABILITIES}

ALL_401 = "401 401 401 401 401 401 401 401 401"
OPERATOR_ONLY_200 = "200 404 404 404 404 404 404 404 401"
OPERATOR_ONLY_201 = "201 404 404 404 404 404 404 404 401"
OPERATOR_ONLY_202 = "202 404 404 404 404 404 404 404 401"
OPERATOR_ONLY_204 = "204 404 404 404 404 404 404 404 401"
CATALOGUE_OP_200 = "200 403 403 403 403 403 403 403 401"  # seen by all, changed by the operator only
SEEN_BY_OP_200 = "200 404 404 404 404 404 404 404 401"

#                                                              op  own adm mem rea bil pm  key anon
EXPECTED: dict[tuple[str, str], tuple[str | None, str | None]] = {
    # instances: compute.* on the project; billing holds no compute permission (403 on what it sees)
    ("POST", "/v1/instances"):                           ("202 202 202 202 403 403 202 202 401", OPERATOR_ONLY_202),
    ("GET", "/v1/instances"):                            ("200 200 200 200 200 200 200 200 401", "200 200 200 200 200 200 200 200 401"),
    ("GET", "/v1/instances/{instance_id}"):              ("200 200 200 200 200 403 200 200 401", OPERATOR_ONLY_200),
    ("POST", "/v1/instances/{instance_id}/action"):      ("202 202 202 202 403 403 202 202 401", OPERATOR_ONLY_202),
    ("DELETE", "/v1/instances/{instance_id}"):           ("202 202 202 202 403 403 202 202 401", OPERATOR_ONLY_202),
    ("GET", "/v1/instances/{instance_id}/console"):      ("200 200 200 200 200 403 200 200 401", OPERATOR_ONLY_200),
    ("GET", "/v1/server-groups"):                        ("200 200 200 200 200 200 200 200 401", "200 200 200 200 200 200 200 200 401"),
    ("POST", "/v1/server-groups"):                       ("201 201 201 201 403 403 201 201 401", OPERATOR_ONLY_201),
    # quotas: read by readers and billing; a customer's limits are set from the organisation above it
    ("GET", "/v1/quotas/{scope_type}/{scope_id}"):       ("200 200 200 200 200 200 200 200 401", OPERATOR_ONLY_200),
    ("PUT", "/v1/quotas/{scope_type}/{scope_id}"):       ("200 200 200 403 403 403 404 403 401", OPERATOR_ONLY_200),
    # hosts: the operator's; agents authenticate with a host credential, never a user's
    ("POST", "/v1/hosts/join-tokens"):                   ("201 404 404 404 404 404 404 404 401", None),
    ("GET", "/v1/hosts"):                                (SEEN_BY_OP_200, None),
    ("GET", "/v1/hosts/{host_id}"):                      (SEEN_BY_OP_200, None),
    ("PATCH", "/v1/hosts/{host_id}"):                    (SEEN_BY_OP_200, None),
    ("POST", "/v1/agent/join"):                          ("201 201 201 201 201 201 201 201 201", None),
    ("POST", "/v1/agent/heartbeat"):                     (ALL_401, None),
    ("POST", "/v1/agent/report"):                        (ALL_401, None),
    ("GET", "/v1/agent/desired"):                        (ALL_401, None),
    ("GET", "/v1/agent/images/{image_id}/{part}"):       (ALL_401, ALL_401),
    # flavors: "own" is restricted to reseller A, "other" to reseller B; the operator manages them
    ("POST", "/v1/flavors"):                             ("201 403 403 403 403 403 403 403 401", None),
    ("GET", "/v1/flavors"):                              ("200 200 200 200 200 200 200 200 401", None),
    ("GET", "/v1/flavors/{flavor_id}"):                  ("200 200 200 200 200 200 200 200 401", SEEN_BY_OP_200),
    ("PATCH", "/v1/flavors/{flavor_id}"):                (CATALOGUE_OP_200, SEEN_BY_OP_200),
    ("DELETE", "/v1/flavors/{flavor_id}"):               ("204 403 403 403 403 403 403 403 401", OPERATOR_ONLY_204),
    ("GET", "/v1/flavors/{flavor_id}/access"):           (CATALOGUE_OP_200, SEEN_BY_OP_200),
    ("POST", "/v1/flavors/{flavor_id}/access"):          ("201 403 403 403 403 403 403 403 401", OPERATOR_ONLY_201),
    ("DELETE", "/v1/flavors/{flavor_id}/access/{org_id}"): ("204 403 403 403 403 403 403 403 401", OPERATOR_ONLY_204),
    # keypairs: the caller's own (an API key uses its creator's); "other" is a tenant B user's, by id
    ("POST", "/v1/keypairs"):                            ("201 201 201 201 403 403 201 201 401", None),
    ("GET", "/v1/keypairs"):                             ("200 200 200 200 200 403 200 200 401", None),
    ("GET", "/v1/keypairs/{name}"):                      ("200 200 200 200 200 403 200 200 401", "404 404 404 404 404 403 404 404 401"),
    ("DELETE", "/v1/keypairs/{name}"):                   ("204 204 204 204 403 403 204 204 401", "404 404 404 404 403 403 404 404 401"),
    # images: "own" belong to customer A (seen through the reseller grant, and by the project member
    # exactly in its customer); billing holds no image permission, so it does not see them (404)
    ("POST", "/v1/images"):                              ("201 201 201 201 403 403 403 201 401", None),
    ("GET", "/v1/images"):                               ("200 200 200 200 200 200 200 200 401", "200 200 200 200 200 200 200 200 401"),
    ("GET", "/v1/images/{image_id}"):                    ("200 200 200 200 200 404 200 200 401", OPERATOR_ONLY_200),
    ("PATCH", "/v1/images/{image_id}"):                  ("200 200 200 200 403 404 403 200 401", OPERATOR_ONLY_200),
    ("DELETE", "/v1/images/{image_id}"):                 ("204 204 204 204 403 404 403 204 401", OPERATOR_ONLY_204),
    ("PUT", "/v1/images/{image_id}/file"):               ("200 200 200 200 403 404 403 200 401", OPERATOR_ONLY_200),
    ("GET", "/v1/images/{image_id}/file"):               ("200 200 200 200 200 404 200 200 401", OPERATOR_ONLY_200),
    ("GET", "/v1/images/{image_id}/members"):            ("200 200 200 200 200 404 200 200 401", OPERATOR_ONLY_200),
    ("POST", "/v1/images/{image_id}/members"):           ("201 201 201 201 403 404 403 201 401", OPERATOR_ONLY_201),
    ("DELETE", "/v1/images/{image_id}/members/{org_id}"): ("204 204 204 204 403 404 403 204 401", OPERATOR_ONLY_204),
}

BUILDERS: dict[tuple[str, str], Build] = {
    ("POST", "/v1/instances"): lambda w, t, c: Req("/v1/instances", _instance_body(w, t)),
    ("GET", "/v1/instances"): lambda w, t, c: Req("/v1/instances", query={"project_id": w.tenant(t).project["id"]}),
    ("GET", "/v1/instances/{instance_id}"): lambda w, t, c: Req(f"/v1/instances/{_cx(w).side(t).instance_id}"),
    ("POST", "/v1/instances/{instance_id}/action"): lambda w, t, c: Req(
        f"/v1/instances/{_cx(w).side(t).instance_id}/action", {"action": "reboot"}),
    ("DELETE", "/v1/instances/{instance_id}"): lambda w, t, c: Req(
        f"/v1/instances/{_instance(w, t, _cx(w).side(t).image_id)}"),
    ("GET", "/v1/instances/{instance_id}/console"): lambda w, t, c: Req(
        f"/v1/instances/{_cx(w).side(t).instance_id}/console"),
    ("GET", "/v1/server-groups"): lambda w, t, c: Req("/v1/server-groups",
                                                      query={"project_id": w.tenant(t).project["id"]}),
    ("POST", "/v1/server-groups"): lambda w, t, c: Req("/v1/server-groups", {
        "project_id": w.tenant(t).project["id"], "name": uniq("grp-"), "policy": "affinity"}),
    ("GET", "/v1/quotas/{scope_type}/{scope_id}"): lambda w, t, c: Req(f"/v1/quotas/project/{w.tenant(t).project['id']}"),
    ("PUT", "/v1/quotas/{scope_type}/{scope_id}"): lambda w, t, c: Req(f"/v1/quotas/org/{w.tenant(t).customer['id']}",
                                                                       BIG_QUOTA),
    ("POST", "/v1/hosts/join-tokens"): lambda w, t, c: Req("/v1/hosts/join-tokens", {"region": "local"}),
    ("GET", "/v1/hosts"): lambda w, t, c: Req("/v1/hosts"),
    ("GET", "/v1/hosts/{host_id}"): lambda w, t, c: Req(f"/v1/hosts/{_cx(w).host_id}"),
    ("PATCH", "/v1/hosts/{host_id}"): lambda w, t, c: Req(f"/v1/hosts/{_cx(w).host_id}", {"status": "up"}),
    ("POST", "/v1/agent/join"): lambda w, t, c: _join(w),
    ("POST", "/v1/agent/heartbeat"): lambda w, t, c: Req("/v1/agent/heartbeat", INVENTORY),
    ("POST", "/v1/agent/report"): lambda w, t, c: Req("/v1/agent/report", {
        "boot_id": "matrix", "seq": 1, "revision": 0,  # revision 0: stale, so the CRASHED changes nothing
        "observations": [{"instance_id": _cx(w).a.instance_id, "power_state": "CRASHED"}]}),
    ("GET", "/v1/agent/desired"): lambda w, t, c: Req("/v1/agent/desired"),
    ("GET", "/v1/agent/images/{image_id}/{part}"): lambda w, t, c: Req(
        f"/v1/agent/images/{_cx(w).side(t).image_id}/disk"),
    ("POST", "/v1/flavors"): lambda w, t, c: Req("/v1/flavors", {"name": uniq("new-f"), "vcpus": 1, "ram_mb": 256,
                                                                "disk_gb": 1}),
    ("GET", "/v1/flavors"): lambda w, t, c: Req("/v1/flavors"),
    ("GET", "/v1/flavors/{flavor_id}"): lambda w, t, c: Req(f"/v1/flavors/{_cx(w).side(t).flavor_id}"),
    ("PATCH", "/v1/flavors/{flavor_id}"): lambda w, t, c: Req(f"/v1/flavors/{_cx(w).side(t).flavor_id}",
                                                              {"description": uniq("d")}),
    ("DELETE", "/v1/flavors/{flavor_id}"): lambda w, t, c: Req(
        f"/v1/flavors/{fresh_flavor(w, t, w.tenant(t).reseller['id'])['id']}"),
    ("GET", "/v1/flavors/{flavor_id}/access"): lambda w, t, c: Req(f"/v1/flavors/{_cx(w).side(t).flavor_id}/access"),
    ("POST", "/v1/flavors/{flavor_id}/access"): lambda w, t, c: Req(
        f"/v1/flavors/{_cx(w).side(t).flavor_id}/access", {"org_id": w.tenant(t).customer["id"]}),
    ("DELETE", "/v1/flavors/{flavor_id}/access/{org_id}"): lambda w, t, c: _share_flavor_with_second(w, t),
    ("POST", "/v1/keypairs"): lambda w, t, c: Req("/v1/keypairs", {"name": uniq("key-"),
                                                                  "public_key": public_key(uniq("new"))}),
    ("GET", "/v1/keypairs"): lambda w, t, c: Req("/v1/keypairs"),
    ("GET", "/v1/keypairs/{name}"): lambda w, t, c: Req(
        f"/v1/keypairs/{own_keypair(w, c) if t == 'own' else _cx(w).b.keypair_id}"),
    ("DELETE", "/v1/keypairs/{name}"): lambda w, t, c: Req(
        f"/v1/keypairs/{own_keypair(w, c) if t == 'own' else _cx(w).b.keypair_id}"),
    ("POST", "/v1/images"): lambda w, t, c: Req("/v1/images", {"name": uniq("new-img-"), "disk_format": "qcow2"}),
    ("GET", "/v1/images"): lambda w, t, c: Req("/v1/images", query={"owner_org_id": w.tenant(t).customer["id"]}),
    ("GET", "/v1/images/{image_id}"): lambda w, t, c: Req(f"/v1/images/{_cx(w).side(t).image_id}"),
    ("PATCH", "/v1/images/{image_id}"): lambda w, t, c: Req(f"/v1/images/{_cx(w).side(t).image_id}",
                                                            {"min_ram_mb": 128}),
    ("DELETE", "/v1/images/{image_id}"): lambda w, t, c: Req(f"/v1/images/{_image(w, t, None)}"),
    ("PUT", "/v1/images/{image_id}/file"): lambda w, t, c: _upload(w, t),
    ("GET", "/v1/images/{image_id}/file"): lambda w, t, c: Req(f"/v1/images/{_cx(w).side(t).image_id}/file"),
    ("GET", "/v1/images/{image_id}/members"): lambda w, t, c: Req(f"/v1/images/{_cx(w).side(t).image_id}/members"),
    ("POST", "/v1/images/{image_id}/members"): lambda w, t, c: Req(
        f"/v1/images/{_cx(w).side(t).image_id}/members", {"org_id": _cx(w).side(t).second_customer["id"]}),
    ("DELETE", "/v1/images/{image_id}/members/{org_id}"): lambda w, t, c: _image_member_to_remove(w, t),
}


# --- billing ----------------------------------------------------------------------------------------
#
# The world is built a month early (FEBRUARY): tenant instances run through February, the clock then
# returns to the fixtures' START (1 March) and the operator closes February, so each tenant has real
# invoices: reseller -> customer, operator -> reseller.


FEBRUARY = dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)
HOURLY = "0.0100"


@dataclass
class Billing:
    budget: dict[str, str]  # which -> budget id of the tenant's customer
    invoice: dict[str, str]  # which -> invoice id addressed to the tenant's customer


def _bx(w: World) -> Billing:
    assert w.bx is not None, "build_billing(w) first"
    return w.bx  # type: ignore[no-any-return]


def before_world(rt: Any) -> None:
    """Call before build_world: tokens outlive the month the test skips, and the world starts in
    February, priced from its first instant."""
    rt.settings.token_ttl_seconds = 400 * 86400
    rt.clock.set(FEBRUARY)


_minutes = itertools.count(1)


def _later() -> str:
    """A distinct future instant per call (a rule or price may start once per instant)."""
    return (dt.datetime(2026, 4, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=next(_minutes))).isoformat()


def price(w: World, product: str) -> None:
    w.op.ok("POST", "/v1/billing/prices", {"region": "local", "product": product, "price": HOURLY})


def build_billing(w: World, start: dt.datetime) -> Billing:
    """After build_world and build_compute (both in FEBRUARY): prices of the restricted flavors, a
    budget per customer, then back to ``start`` and February closed."""
    cx = _cx(w)
    budgets: dict[str, str] = {}
    for which in ("own", "other"):
        t = w.tenant(which)
        flavor = w.op.ok("GET", f"/v1/flavors/{cx.side(which).flavor_id}")
        price(w, f"instance.{flavor['name']}")
        b = w.op.ok("POST", "/v1/billing/budgets", {"org_id": t.customer["id"], "project_id": t.project["id"],
                                                     "name": uniq("budget-"), "amount": "1000"})
        budgets[which] = b["id"]
        w.remember(which, b["id"])
    w.rt.clock.set(start)
    # the operator can issue invoices only with a complete legal identity
    w.op.ok("PATCH", f"/v1/organisations/{w.root_id}", {
        "siren": "552081317", "vat_id": "FR03552081317", "address": "2 place de la Bourse, Paris"})
    r = agent(w, cx.host_credential, "POST", "/v1/agent/heartbeat", INVENTORY)  # a month of silence: down
    assert r.status_code == 200, r.text
    closed = w.op.ok("POST", "/v1/billing/periods/2026-02/close", status=200)
    assert closed["issued"] >= 4, closed
    invoices: dict[str, str] = {}
    for which in ("own", "other"):
        t = w.tenant(which)
        for org in (t.customer, t.reseller):
            items = w.op.ok("GET", f"/v1/billing/invoices?org_id={org['id']}")["items"]
            assert items, f"no invoice for {org['name']}"
            w.remember(which, *[i["id"] for i in items])
        invoices[which] = w.op.ok("GET", f"/v1/billing/invoices?org_id={t.customer['id']}")["items"][0]["id"]
    w.bx = Billing(budgets, invoices)
    return w.bx  # type: ignore[no-any-return]


# billing.read/write: the owner, admin and billing roles of the organisation (or above it); the
# project member cannot see its reseller (404) and may not read its customer's accounts (403).
ACCOUNTS_200 = "200 200 200 403 403 200 403 403 401"      # on the tenant's customer
ACCOUNTS_201 = "201 201 201 403 403 201 403 403 401"
ISSUER_200 = "200 200 200 403 403 200 404 403 401"        # on the tenant's reseller (the issuer)
ISSUER_201 = "201 201 201 403 403 201 404 403 401"

EXPECTED.update({
    ("GET", "/v1/billing/quote"):                          ("200 200 200 200 200 200 403 200 401", OPERATOR_ONLY_200),
    ("GET", "/v1/billing/prices"):                         (OPERATOR_ONLY_200, None),
    ("POST", "/v1/billing/prices"):                        (OPERATOR_ONLY_201, None),
    ("GET", "/v1/billing/rules"):                          (ISSUER_200, OPERATOR_ONLY_200),
    ("POST", "/v1/billing/rules"):                         (ISSUER_201, OPERATOR_ONLY_201),
    ("GET", "/v1/billing/usage"):                          (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("POST", "/v1/billing/periods/{month}/close"):         (OPERATOR_ONLY_200, None),
    ("POST", "/v1/billing/reconcile"):                     (OPERATOR_ONLY_200, None),
    ("GET", "/v1/billing/invoices"):                       (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("GET", "/v1/billing/invoices/{invoice_id}"):          (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("GET", "/v1/billing/invoices/{invoice_id}/document"): (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("POST", "/v1/billing/invoices/{invoice_id}/credit-notes"): (ISSUER_201, OPERATOR_ONLY_201),
    ("POST", "/v1/billing/credits"):                       (ISSUER_201, OPERATOR_ONLY_201),
    ("GET", "/v1/billing/credits"):                        (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("POST", "/v1/billing/budgets"):                       (ACCOUNTS_201, OPERATOR_ONLY_201),
    ("GET", "/v1/billing/budgets"):                        (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("PATCH", "/v1/billing/budgets/{budget_id}"):          (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("GET", "/v1/billing/budgets/{budget_id}/events"):     (ACCOUNTS_200, OPERATOR_ONLY_200),
    ("POST", "/v1/billing/budgets/evaluate"):              (OPERATOR_ONLY_200, None),
    ("GET", "/v1/billing/reports/revenue"):                (ISSUER_200, OPERATOR_ONLY_200),
})

BUILDERS.update({
    ("GET", "/v1/billing/quote"): lambda w, t, c: Req("/v1/billing/quote", query={
        "flavor": _cx(w).side(t).flavor_id, "org_id": w.tenant(t).customer["id"]}),
    ("GET", "/v1/billing/prices"): lambda w, t, c: Req("/v1/billing/prices"),
    ("POST", "/v1/billing/prices"): lambda w, t, c: Req("/v1/billing/prices", {
        "region": "local", "product": f"instance.{uniq('priced-')}", "price": HOURLY}),
    ("GET", "/v1/billing/rules"): lambda w, t, c: Req("/v1/billing/rules", query={"org_id": w.tenant(t).reseller["id"]}),
    ("POST", "/v1/billing/rules"): lambda w, t, c: Req("/v1/billing/rules", {
        "org_id": w.tenant(t).reseller["id"], "kind": "markup", "value": "5",
        "customer_org_id": w.tenant(t).customer["id"], "effective_from": _later()}),
    ("GET", "/v1/billing/usage"): lambda w, t, c: Req("/v1/billing/usage", query={"org_id": w.tenant(t).customer["id"]}),
    ("POST", "/v1/billing/periods/{month}/close"): lambda w, t, c: Req("/v1/billing/periods/2026-02/close"),
    ("POST", "/v1/billing/reconcile"): lambda w, t, c: Req("/v1/billing/reconcile"),
    ("GET", "/v1/billing/invoices"): lambda w, t, c: Req("/v1/billing/invoices",
                                                         query={"org_id": w.tenant(t).customer["id"]}),
    ("GET", "/v1/billing/invoices/{invoice_id}"): lambda w, t, c: Req(f"/v1/billing/invoices/{_bx(w).invoice[t]}"),
    ("GET", "/v1/billing/invoices/{invoice_id}/document"): lambda w, t, c: Req(
        f"/v1/billing/invoices/{_bx(w).invoice[t]}/document", query={"format": "csv"}),
    ("POST", "/v1/billing/invoices/{invoice_id}/credit-notes"): lambda w, t, c: Req(
        f"/v1/billing/invoices/{_bx(w).invoice[t]}/credit-notes", {"reason": uniq("goodwill "), "lines": {"1": "0.01"}}),
    ("POST", "/v1/billing/credits"): lambda w, t, c: Req("/v1/billing/credits", {
        "org_id": w.tenant(t).customer["id"], "amount": "1.00", "reason": "goodwill"}),
    ("GET", "/v1/billing/credits"): lambda w, t, c: Req("/v1/billing/credits", query={"org_id": w.tenant(t).customer["id"]}),
    ("POST", "/v1/billing/budgets"): lambda w, t, c: Req("/v1/billing/budgets", {
        "org_id": w.tenant(t).customer["id"], "project_id": w.tenant(t).project["id"], "name": uniq("budget-"),
        "amount": "500"}),
    ("GET", "/v1/billing/budgets"): lambda w, t, c: Req("/v1/billing/budgets", query={"org_id": w.tenant(t).customer["id"]}),
    ("PATCH", "/v1/billing/budgets/{budget_id}"): lambda w, t, c: Req(f"/v1/billing/budgets/{_bx(w).budget[t]}",
                                                                      {"amount": "2000"}),
    ("GET", "/v1/billing/budgets/{budget_id}/events"): lambda w, t, c: Req(
        f"/v1/billing/budgets/{_bx(w).budget[t]}/events"),
    ("POST", "/v1/billing/budgets/evaluate"): lambda w, t, c: Req("/v1/billing/budgets/evaluate"),
    ("GET", "/v1/billing/reports/revenue"): lambda w, t, c: Req("/v1/billing/reports/revenue", query={
        "org_id": w.tenant(t).reseller["id"], "month": "2026-02"}),
})


# --- the OpenStack facade ---------------------------------------------------------------------------
#
# Each caller uses a Keystone token scoped to project A (``World.os_tokens``), except the billing
# user, who holds no Keystone role and so cannot scope one (its plain token is used: the
# project-scoped services answer it 401), and the API key, scoped to reseller A rather than to a
# project (the same 401). "other" names tenant B's server, group, port, image, flavor or keypair
# from that project-A token. Errors are OpenStack's JSON shapes, not problem+json.


FACADE_PREFIXES = ("/identity", "/compute", "/image", "/networking")


@dataclass
class Facade:
    tokens: dict[str, str | None]  # caller -> the credential it uses on the facade
    tiny: str  # the tiny flavor's id
    network: str  # the default network's id and its subnet's
    subnet: str
    b_token: str | None = None  # a token of tenant B's administrator, scoped to project B
    nets: dict[str, str] = field(default_factory=dict)  # which -> a network of the tenant's project
    subnets: dict[str, str] = field(default_factory=dict)  # which -> a subnet of it


def _fx(w: World) -> Facade:
    assert w.fx is not None, "build_openstack(w) first"
    return w.fx  # type: ignore[no-any-return]


def keystone_token(w: World, name: str, password: str, project_id: str | None) -> Any:
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": name, "password": password, "domain": {"id": "default"}}}}}}
    if project_id:
        body["auth"]["scope"] = {"project": {"id": project_id}}
    return w.client.post("/identity/v3/auth/tokens?nocatalog", json=body)


def build_openstack(w: World) -> Facade:
    tokens: dict[str, str | None] = {"anon": None, "apikey": w.apikey_secret}
    for caller, session in w.callers.items():
        if caller in ("anon", "apikey"):
            continue
        assert session is not None
        name = "admin" if caller == "operator" else session.user["name"]
        r = keystone_token(w, name, ADMIN_PASSWORD if caller == "operator" else PASSWORD, w.a.project["id"])
        if caller == "billing":
            assert r.status_code == 401, f"billing scoped a token to a project: {r.text}"
            tokens[caller] = session.token
        else:
            assert r.status_code == 201, f"{caller}: {r.text}"
            tokens[caller] = r.headers["x-subject-token"]
    tiny = w.op.ok("GET", "/v1/flavors?name=tiny")["items"][0]["id"]
    region = w.op.ok("GET", "/v1/regions/local")["id"]
    w.fx = Facade(tokens, tiny, network_id(region), subnet_id(region))
    return w.fx  # type: ignore[no-any-return]


def _os(path: str, json: Any = None, **kw: Any) -> Build:
    """A facade request with the caller's facade credential; ``path``/``json`` may be callables of (w, t, c)."""

    def build(w: World, t: str, c: str) -> Req:
        p = path(w, t, c) if callable(path) else path
        j = json(w, t, c) if callable(json) else json
        return Req(p, j, credential=_fx(w).tokens[c], **kw)

    return build


def _subject(w: World, t: str, c: str, revoke: bool) -> Req:
    """``X-Subject-Token``: the caller's own token (a fresh one when it is revoked), or a token of
    tenant B's administrator."""
    if t == "other":
        b = w.tenant("other").keymaker
        subject = (keystone_token(w, b.user["name"], PASSWORD, None).headers["x-subject-token"] if revoke
                   else b.token)
        cred = _fx(w).tokens[c]
    elif revoke:
        cred = subject = w.fresh_credential(c)[0] or ""
    else:
        cred = subject = _fx(w).tokens[c] or ""
    return Req("/identity/v3/auth/tokens", credential=cred, headers={"X-Subject-Token": subject})


def _server(w: World, t: str) -> str:
    return _cx(w).side(t).instance_id


def _fresh_group(w: World, t: str) -> str:
    tn = w.tenant(t)
    g = tn.keymaker.ok("POST", "/v1/server-groups", {"project_id": tn.project["id"], "name": uniq("grp-"),
                                                     "policy": "affinity"})
    w.remember(t, g["id"])
    return str(g["id"])


SCOPED_200 = "200 200 200 200 200 401 200 401 401"  # a project-scoped read
SCOPED_OTHER_404 = "404 404 404 404 404 401 404 401 401"  # tenant B's id, from a project-A token
AUTH_200 = "200 200 200 200 200 200 200 200 401"

EXPECTED.update({
    ("GET", "/identity/v3/auth/tokens"):                   ("200 200 200 200 200 200 200 404 401", "200 404 404 404 404 404 404 404 401"),
    ("DELETE", "/identity/v3/auth/tokens"):                ("204 204 204 204 204 204 204 404 401", "204 404 404 404 404 404 404 404 401"),
    ("GET", "/identity/v3/auth/projects"):                 (AUTH_200, None),
    ("GET", "/identity/v3/auth/domains"):                  (AUTH_200, None),
    ("GET", "/identity/v3/auth/catalog"):                  ("200 200 200 200 200 403 200 403 401", None),
    ("GET", "/compute/v2.1/flavors"):                      (AUTH_200, None),
    ("GET", "/compute/v2.1/flavors/detail"):               (AUTH_200, None),
    ("GET", "/compute/v2.1/flavors/{flavor_id}"):          (AUTH_200, SEEN_BY_OP_200),
    ("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs"): (AUTH_200, SEEN_BY_OP_200),
    ("POST", "/compute/v2.1/os-keypairs"):                 ("200 200 200 200 403 403 200 200 401", None),
    ("GET", "/compute/v2.1/os-keypairs"):                  ("200 200 200 200 200 403 200 200 401", None),
    ("GET", "/compute/v2.1/os-keypairs/{name}"):           ("200 200 200 200 200 403 200 200 401", "404 404 404 404 404 403 404 404 401"),
    ("DELETE", "/compute/v2.1/os-keypairs/{name}"):        ("202 202 202 202 403 403 202 202 401", "404 404 404 404 403 403 404 404 401"),
    ("GET", "/compute/v2.1/limits"):                       (SCOPED_200, None),
    ("GET", "/compute/v2.1/os-server-groups"):             (SCOPED_200, None),
    ("POST", "/compute/v2.1/os-server-groups"):            ("200 200 200 200 403 401 200 401 401", None),
    ("GET", "/compute/v2.1/os-server-groups/{group_id}"):  (SCOPED_200, SCOPED_OTHER_404),
    ("DELETE", "/compute/v2.1/os-server-groups/{group_id}"): ("204 204 204 204 403 401 204 401 401", SCOPED_OTHER_404),
    ("POST", "/compute/v2.1/servers"):                     ("202 202 202 202 403 401 202 401 401", "202 404 404 404 403 401 404 401 401"),
    ("GET", "/compute/v2.1/servers"):                      (SCOPED_200, None),
    ("GET", "/compute/v2.1/servers/detail"):               (SCOPED_200, None),
    ("GET", "/compute/v2.1/servers/{server_id}"):          (SCOPED_200, SCOPED_OTHER_404),
    ("PUT", "/compute/v2.1/servers/{server_id}"):          ("200 200 200 200 403 401 200 401 401", SCOPED_OTHER_404),
    ("DELETE", "/compute/v2.1/servers/{server_id}"):       ("204 204 204 204 403 401 204 401 401", SCOPED_OTHER_404),
    ("POST", "/compute/v2.1/servers/{server_id}/action"):  ("202 202 202 202 403 401 202 401 401", SCOPED_OTHER_404),
    ("GET", "/compute/v2.1/servers/{server_id}/ips"):      (SCOPED_200, SCOPED_OTHER_404),
    ("GET", "/compute/v2.1/servers/{server_id}/ips/{network}"): (SCOPED_200, SCOPED_OTHER_404),
    ("GET", "/compute/v2.1/servers/{server_id}/metadata"): (SCOPED_200, SCOPED_OTHER_404),
    ("GET", "/networking/v2.0/networks"):                  (AUTH_200, None),
    ("GET", "/networking/v2.0/subnets"):                   (AUTH_200, None),
    ("GET", "/networking/v2.0/ports"):                     (SCOPED_200, None),
    ("GET", "/networking/v2.0/ports/{port_id}"):           (SCOPED_200, SCOPED_OTHER_404),
    ("GET", "/image/v2/images"):                           (AUTH_200, None),
    ("POST", "/image/v2/images"):                          ("201 201 201 201 403 403 403 201 401", None),
    ("GET", "/image/v2/images/{image_id}"):                ("200 200 200 200 200 404 200 200 401", OPERATOR_ONLY_200),
    ("PATCH", "/image/v2/images/{image_id}"):              ("200 200 200 200 403 404 403 200 401", OPERATOR_ONLY_200),
    ("DELETE", "/image/v2/images/{image_id}"):             ("204 204 204 204 403 404 403 204 401", OPERATOR_ONLY_204),
    ("PUT", "/image/v2/images/{image_id}/file"):           ("204 204 204 204 403 404 403 204 401", OPERATOR_ONLY_204),
    ("GET", "/image/v2/images/{image_id}/file"):           ("200 200 200 200 200 404 200 200 401", OPERATOR_ONLY_200),
})

BUILDERS.update({
    ("GET", "/identity/v3/auth/tokens"): lambda w, t, c: _subject(w, t, c, revoke=False),
    ("DELETE", "/identity/v3/auth/tokens"): lambda w, t, c: _subject(w, t, c, revoke=True),
    ("GET", "/identity/v3/auth/projects"): _os("/identity/v3/auth/projects"),
    ("GET", "/identity/v3/auth/domains"): _os("/identity/v3/auth/domains"),
    ("GET", "/identity/v3/auth/catalog"): _os("/identity/v3/auth/catalog"),
    ("GET", "/compute/v2.1/flavors"): _os("/compute/v2.1/flavors"),
    ("GET", "/compute/v2.1/flavors/detail"): _os("/compute/v2.1/flavors/detail"),
    ("GET", "/compute/v2.1/flavors/{flavor_id}"): _os(lambda w, t, c: f"/compute/v2.1/flavors/{_cx(w).side(t).flavor_id}"),
    ("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs"): _os(
        lambda w, t, c: f"/compute/v2.1/flavors/{_cx(w).side(t).flavor_id}/os-extra_specs"),
    ("POST", "/compute/v2.1/os-keypairs"): _os("/compute/v2.1/os-keypairs", lambda w, t, c: {
        "keypair": {"name": uniq("os-key-"), "public_key": public_key(uniq("os"))}}),
    ("GET", "/compute/v2.1/os-keypairs"): _os("/compute/v2.1/os-keypairs"),
    ("GET", "/compute/v2.1/os-keypairs/{name}"): _os(lambda w, t, c: "/compute/v2.1/os-keypairs/"
                                                     + (own_keypair(w, c) if t == "own" else str(_cx(w).b.keypair_id))),
    ("DELETE", "/compute/v2.1/os-keypairs/{name}"): _os(lambda w, t, c: "/compute/v2.1/os-keypairs/"
                                                        + (own_keypair(w, c) if t == "own" else str(_cx(w).b.keypair_id))),
    ("GET", "/compute/v2.1/limits"): _os("/compute/v2.1/limits"),
    ("GET", "/compute/v2.1/os-server-groups"): _os("/compute/v2.1/os-server-groups"),
    ("POST", "/compute/v2.1/os-server-groups"): _os("/compute/v2.1/os-server-groups", lambda w, t, c: {
        "server_group": {"name": uniq("os-grp-"), "policies": ["anti-affinity"]}}),
    ("GET", "/compute/v2.1/os-server-groups/{group_id}"): _os(
        lambda w, t, c: f"/compute/v2.1/os-server-groups/{_cx(w).side(t).group_id}"),
    ("DELETE", "/compute/v2.1/os-server-groups/{group_id}"): _os(
        lambda w, t, c: f"/compute/v2.1/os-server-groups/{_fresh_group(w, t)}"),
    ("POST", "/compute/v2.1/servers"): _os("/compute/v2.1/servers", lambda w, t, c: {"server": {
        "name": uniq("os-vm-"), "imageRef": _cx(w).side(t).image_id, "flavorRef": _fx(w).tiny, "networks": "auto"}}),
    ("GET", "/compute/v2.1/servers"): _os("/compute/v2.1/servers"),
    ("GET", "/compute/v2.1/servers/detail"): _os("/compute/v2.1/servers/detail"),
    ("GET", "/compute/v2.1/servers/{server_id}"): _os(lambda w, t, c: f"/compute/v2.1/servers/{_server(w, t)}"),
    ("PUT", "/compute/v2.1/servers/{server_id}"): _os(lambda w, t, c: f"/compute/v2.1/servers/{_server(w, t)}",
                                                      lambda w, t, c: {"server": {"name": uniq("renamed-")}}),
    ("DELETE", "/compute/v2.1/servers/{server_id}"): _os(
        lambda w, t, c: f"/compute/v2.1/servers/{_instance(w, t, _cx(w).side(t).image_id)}"),
    ("POST", "/compute/v2.1/servers/{server_id}/action"): _os(
        lambda w, t, c: f"/compute/v2.1/servers/{_server(w, t)}/action", {"reboot": {"type": "SOFT"}}),
    ("GET", "/compute/v2.1/servers/{server_id}/ips"): _os(lambda w, t, c: f"/compute/v2.1/servers/{_server(w, t)}/ips"),
    ("GET", "/compute/v2.1/servers/{server_id}/ips/{network}"): _os(
        lambda w, t, c: f"/compute/v2.1/servers/{_server(w, t)}/ips/default"),
    ("GET", "/compute/v2.1/servers/{server_id}/metadata"): _os(
        lambda w, t, c: f"/compute/v2.1/servers/{_server(w, t)}/metadata"),
    ("GET", "/networking/v2.0/networks"): _os("/networking/v2.0/networks"),
    ("GET", "/networking/v2.0/subnets"): _os("/networking/v2.0/subnets"),
    ("GET", "/networking/v2.0/ports"): _os("/networking/v2.0/ports"),
    ("GET", "/networking/v2.0/ports/{port_id}"): _os(lambda w, t, c: f"/networking/v2.0/ports/{port_id(_server(w, t))}"),
    ("GET", "/image/v2/images"): _os("/image/v2/images"),
    ("POST", "/image/v2/images"): _os("/image/v2/images", lambda w, t, c: {
        "name": uniq("os-img-"), "disk_format": "qcow2", "container_format": "bare"}),
    ("GET", "/image/v2/images/{image_id}"): _os(lambda w, t, c: f"/image/v2/images/{_cx(w).side(t).image_id}"),
    ("PATCH", "/image/v2/images/{image_id}"): _os(lambda w, t, c: f"/image/v2/images/{_cx(w).side(t).image_id}",
                                                  [{"op": "replace", "path": "/min_ram", "value": 128}],
                                                  headers={"Content-Type": "application/openstack-images-v2.1-json-patch"}),
    ("DELETE", "/image/v2/images/{image_id}"): _os(lambda w, t, c: f"/image/v2/images/{_image(w, t, None)}"),
    ("PUT", "/image/v2/images/{image_id}/file"): lambda w, t, c: Req(
        f"/image/v2/images/{_image(w, t, None)}/file", credential=_fx(w).tokens[c], content=_cx(w).qcow2,
        headers=OCTETS),
    ("GET", "/image/v2/images/{image_id}/file"): _os(lambda w, t, c: f"/image/v2/images/{_cx(w).side(t).image_id}/file"),
})


# --- the facade's project networks (Neutron records of a project) ---------------------------------

_cidrs = itertools.count(1)


def _neutron(w: World, t: str, kind: str, body: dict[str, Any]) -> str:
    """A new network or subnet of the tenant's project, created with that project's token."""
    token = _fx(w).tokens["operator"] if t == "own" else _fx(w).b_token
    r = w.client.post(f"/networking/v2.0/{kind}s", json={kind: body}, headers={"X-Auth-Token": token or ""})
    assert r.status_code == 201, r.text
    ident = str(r.json()[kind]["id"])
    w.remember(t, ident)
    return ident


def _net(w: World, t: str) -> str:
    return _neutron(w, t, "network", {"name": uniq("net-")})


def _subnet_body(network: str) -> dict[str, Any]:
    n = next(_cidrs)
    return {"network_id": network, "cidr": f"10.{n // 250}.{n % 250}.0/24", "ip_version": 4}


def _sub(w: World, t: str) -> str:
    return _neutron(w, t, "subnet", _subnet_body(_fx(w).nets[t]))


def build_project_networks(w: World) -> None:
    """After build_openstack: a network with a subnet in each tenant's project."""
    fx = _fx(w)
    b = w.tenant("other")
    r = keystone_token(w, b.keymaker.user["name"], PASSWORD, b.project["id"])
    assert r.status_code == 201, r.text
    fx.b_token = r.headers["x-subject-token"]
    for t in ("own", "other"):
        fx.nets[t] = _net(w, t)
        fx.subnets[t] = _sub(w, t)


PROJECT_WRITE_201 = "201 201 201 201 403 401 201 401 401"
PROJECT_WRITE_200 = "200 200 200 200 403 401 200 401 401"
PROJECT_WRITE_204 = "204 204 204 204 403 401 204 401 401"

EXPECTED.update({
    ("GET", "/networking/v2.0/networks/{network_id}"):     (AUTH_200, "404 404 404 404 404 404 404 404 401"),
    ("GET", "/networking/v2.0/subnets/{subnet_id}"):       (AUTH_200, "404 404 404 404 404 404 404 404 401"),
    ("POST", "/networking/v2.0/networks"):                 (PROJECT_WRITE_201, "403 403 403 403 403 401 403 401 401"),
    ("PUT", "/networking/v2.0/networks/{network_id}"):     (PROJECT_WRITE_200, SCOPED_OTHER_404),
    ("DELETE", "/networking/v2.0/networks/{network_id}"):  (PROJECT_WRITE_204, SCOPED_OTHER_404),
    ("POST", "/networking/v2.0/subnets"):                  (PROJECT_WRITE_201, SCOPED_OTHER_404),
    ("PUT", "/networking/v2.0/subnets/{subnet_id}"):       (PROJECT_WRITE_200, SCOPED_OTHER_404),
    ("DELETE", "/networking/v2.0/subnets/{subnet_id}"):    (PROJECT_WRITE_204, SCOPED_OTHER_404),
})

BUILDERS.update({
    # own: the region's default network (seen by every principal); other: tenant B's project network
    ("GET", "/networking/v2.0/networks/{network_id}"): _os(
        lambda w, t, c: f"/networking/v2.0/networks/{_fx(w).network if t == 'own' else _fx(w).nets[t]}"),
    ("GET", "/networking/v2.0/subnets/{subnet_id}"): _os(
        lambda w, t, c: f"/networking/v2.0/subnets/{_fx(w).subnet if t == 'own' else _fx(w).subnets[t]}"),
    # other: a network claimed for tenant B's project from a project-A token
    ("POST", "/networking/v2.0/networks"): _os("/networking/v2.0/networks", lambda w, t, c: {"network": {
        "name": uniq("net-"), **({} if t == "own" else {"project_id": w.tenant(t).project["id"]})}}),
    ("PUT", "/networking/v2.0/networks/{network_id}"): _os(
        lambda w, t, c: f"/networking/v2.0/networks/{_fx(w).nets[t]}", lambda w, t, c: {"network": {"name": uniq("n-")}}),
    ("DELETE", "/networking/v2.0/networks/{network_id}"): _os(lambda w, t, c: f"/networking/v2.0/networks/{_net(w, t)}"),
    ("POST", "/networking/v2.0/subnets"): _os("/networking/v2.0/subnets",
                                              lambda w, t, c: {"subnet": _subnet_body(_fx(w).nets[t])}),
    ("PUT", "/networking/v2.0/subnets/{subnet_id}"): _os(
        lambda w, t, c: f"/networking/v2.0/subnets/{_fx(w).subnets[t]}", lambda w, t, c: {"subnet": {"name": uniq("s-")}}),
    ("DELETE", "/networking/v2.0/subnets/{subnet_id}"): _os(lambda w, t, c: f"/networking/v2.0/subnets/{_sub(w, t)}"),
})
